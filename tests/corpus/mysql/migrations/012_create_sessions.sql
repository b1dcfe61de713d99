CREATE TABLE sessions (
  token VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  user_uuid CHAR(36) NOT NULL,
  user_agent VARCHAR(512),
  expires_at DATETIME NOT NULL,
  INDEX sessions_expires (expires_at),
  CONSTRAINT sessions_user FOREIGN KEY (user_uuid) REFERENCES users (uuid) ON DELETE CASCADE
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb4;
