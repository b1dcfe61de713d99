DO $$
DECLARE
    org record;
BEGIN
    FOR org IN SELECT uuid FROM organizations LOOP
        INSERT INTO sla_policies (org_uuid, priority, response_mins, resolve_mins)
        VALUES (org.uuid, 1, 60, 480), (org.uuid, 2, 240, 1440), (org.uuid, 3, 15, 120)
        ON CONFLICT DO NOTHING;
    END LOOP;
END
$$;
