CREATE TABLE comments (
  uuid CHAR(36) NOT NULL,
  ticket_id INT UNSIGNED NOT NULL,
  author_uuid CHAR(36),
  body TEXT NOT NULL,
  internal TINYINT(1) NOT NULL DEFAULT 0,
  created_at DATETIME NOT NULL,
  PRIMARY KEY (uuid),
  FOREIGN KEY (ticket_id) REFERENCES tickets (id) ON DELETE CASCADE,
  FOREIGN KEY (author_uuid) REFERENCES users (uuid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX comments_ticket ON comments (ticket_id);
