INSERT INTO organizations (uuid, name, billing_email)
VALUES ('00000000-0000-4000-8000-000000000001', 'Default', 'billing@example.invalid');

INSERT INTO tickets (org_uuid, subject, body, priority)
VALUES ('00000000-0000-4000-8000-000000000001', 'Welcome', 'Your helpdesk is ready.', 1),
       ('00000000-0000-4000-8000-000000000001', 'URGENT: printer on fire', NULL, 2);
