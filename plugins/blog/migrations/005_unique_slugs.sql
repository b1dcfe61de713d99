-- A slug names one post in URLs: no two posts may share one.
CREATE UNIQUE INDEX blog_posts_slug ON blog_posts (slug);
