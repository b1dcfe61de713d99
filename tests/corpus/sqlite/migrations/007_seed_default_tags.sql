INSERT INTO tags (name) VALUES ('billing'), ('bug'), ('feature-request');
INSERT INTO tags (name) VALUES ('question');
