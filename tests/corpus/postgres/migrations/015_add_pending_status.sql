ALTER TYPE ticket_status ADD VALUE IF NOT EXISTS 'on_hold' AFTER 'pending';
