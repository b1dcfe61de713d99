CREATE TABLE saved_replies (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  org_uuid CHAR(36) NOT NULL,
  title VARCHAR(120) NOT NULL,
  body TEXT NOT NULL,
  UNIQUE KEY saved_replies_title (org_uuid, title),
  FOREIGN KEY (org_uuid) REFERENCES organizations (uuid) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO saved_replies (org_uuid, title, body)
SELECT uuid, 'Thanks', 'Thank you for contacting us.' FROM organizations;
