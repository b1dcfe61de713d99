INSERT INTO tags (name) VALUES ('billing'), ('bug'), ('feature-request')
ON CONFLICT (name) DO NOTHING;
