"""Gives every post a slug (the last part of its URL), made from its title."""
import re

import wasmig


def slugify(title: str, taken: set) -> str:
    """Lower-case words joined by dashes; a number appended when another post has it."""
    base = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "post"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    return slug


def up(db: wasmig.Db) -> None:
    db.execute("ALTER TABLE blog_posts ADD COLUMN slug VARCHAR(200)")
    taken: set = set()
    posts = db.query_iter("SELECT id, title FROM blog_posts ORDER BY id")
    slugs = [[slugify(post["title"], taken), post["id"]] for post in posts]
    p = db.param
    db.execute_batch(f"UPDATE blog_posts SET slug = {p(1)} WHERE id = {p(2)}", slugs)
    wasmig.info(f"gave {len(slugs)} posts a slug")
