SET FOREIGN_KEY_CHECKS = 0;

-- The membership table comes first in this file and refers to organizations, created below.
CREATE TABLE users_organizations (
  uuid CHAR(36) NOT NULL PRIMARY KEY,
  user_uuid CHAR(36) NOT NULL REFERENCES users (uuid),
  org_uuid CHAR(36) NOT NULL,
  access_all BOOLEAN NOT NULL,
  akey TEXT NOT NULL,
  status INTEGER NOT NULL,
  atype INTEGER NOT NULL,
  UNIQUE (user_uuid, org_uuid),
  FOREIGN KEY (user_uuid) REFERENCES users (uuid),
  FOREIGN KEY (org_uuid) REFERENCES organizations (uuid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE organizations (
  uuid CHAR(36) NOT NULL PRIMARY KEY,
  name TEXT NOT NULL,
  billing_email TEXT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

SET FOREIGN_KEY_CHECKS = 1;
