CREATE TYPE ticket_status AS ENUM ('open', 'pending', 'closed');
