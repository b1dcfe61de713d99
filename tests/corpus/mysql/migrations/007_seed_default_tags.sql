INSERT INTO tags (name) VALUES ('billing'), ('bug'), ('feature-request');
INSERT INTO tags (name) SELECT 'question' FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM tags WHERE name = 'question');
