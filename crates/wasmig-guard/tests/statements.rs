//! The policy on a table of statements, allowed and denied, in all three dialects.

use std::collections::BTreeMap;

use wasmig_db::Dialect;
use wasmig_guard::{Catalog, Effect, Grants, ObjectKind, Policy, Rule};

/// Module `blog` owns its posts and an index; `victim` owns its secrets; the host owns the
/// ledger and the application's `users` and `settings`; `blog` may read `users` and write
/// `settings`.
fn policy(dialect: Dialect) -> Policy {
    let mut objects = BTreeMap::new();
    for (name, owner) in [
        ("blog_posts", Some("blog")),
        ("blog_posts_status", Some("blog")),
        ("victim_secrets", Some("victim")),
        ("users", None),
        ("users_id_seq", None),
        ("settings", None),
        ("wasmig_modules", None),
        ("wasmig_history", None),
    ] {
        objects.insert(name.to_owned(), owner.map(str::to_owned));
    }
    let home = match dialect {
        Dialect::Sqlite => None,
        Dialect::Postgres => Some("public"),
        Dialect::MySql => Some("app"),
    };
    Policy::new(
        dialect,
        "blog",
        home,
        Catalog { objects },
        Grants {
            read: ["users".to_owned()].into(),
            write: ["settings".to_owned()].into(),
        },
    )
}

/// `None`: allowed; `Some(words)`: denied with a reason containing `words`.
type Case = (&'static str, Option<&'static str>);

const SQLITE: &[Case] = &[
    ("SELECT * FROM blog_posts", None),
    (
        "SELECT p.id FROM blog_posts p JOIN users u ON u.id = p.author",
        None,
    ),
    ("INSERT INTO blog_posts (title) VALUES ('x')", None),
    ("INSERT INTO blog_posts SELECT * FROM blog_posts", None),
    ("UPDATE blog_posts SET title = 'y' WHERE id = 1", None),
    ("DELETE FROM blog_posts WHERE id = 1", None),
    (
        "CREATE TABLE blog_tags (id INTEGER PRIMARY KEY, post INTEGER REFERENCES blog_posts(id))",
        None,
    ),
    ("CREATE INDEX blog_posts_title ON blog_posts (title)", None),
    ("ALTER TABLE blog_posts ADD COLUMN rating INTEGER", None),
    ("ALTER TABLE blog_posts RENAME TO blog_articles", None),
    ("DROP TABLE blog_posts", None),
    ("DROP INDEX blog_posts_status", None),
    (
        "CREATE VIEW blog_live AS SELECT * FROM blog_posts WHERE status = 'live'",
        None,
    ),
    ("PRAGMA foreign_keys = OFF", None),
    ("PRAGMA defer_foreign_keys = ON", None),
    ("SELECT * FROM pragma_table_info('blog_posts')", None),
    ("SELECT name FROM sqlite_master WHERE type = 'table'", None),
    (
        "WITH recent AS (SELECT * FROM blog_posts) SELECT * FROM recent",
        None,
    ),
    ("UPDATE settings SET value = 1", None),
    ("DELETE FROM settings WHERE 1 = 0", None),
    ("SELECT * FROM main.blog_posts", None),
    ("SELECT * FROM \"BLOG_POSTS\"", None),
    (
        "CREATE TRIGGER blog_touch AFTER INSERT ON blog_posts BEGIN UPDATE blog_posts SET title = title WHERE id = NEW.id; END",
        None,
    ),
    (
        "INSERT INTO blog_posts (title) VALUES ('a'); INSERT INTO blog_posts (title) VALUES ('b')",
        None,
    ),
    (
        "CREATE TABLE blog_x (id INTEGER); INSERT INTO blog_x VALUES (1)",
        None,
    ),
    ("SELECT COUNT(*) FROM (SELECT id FROM blog_posts) t", None),
    (
        "SELECT * FROM blog_posts WHERE id IN (SELECT post FROM blog_posts)",
        None,
    ),
    ("CREATE TABLE IF NOT EXISTS blog_posts (id INTEGER)", None),
    (
        "SELECT * FROM victim_secrets",
        Some("belongs to module `victim`"),
    ),
    (
        "SELECT * FROM blog_posts JOIN victim_secrets ON 1 = 1",
        Some("may not read `victim_secrets`"),
    ),
    (
        "SELECT * FROM blog_posts WHERE id IN (SELECT id FROM victim_secrets)",
        Some("may not read `victim_secrets`"),
    ),
    (
        "WITH x AS (SELECT * FROM victim_secrets) SELECT * FROM x",
        Some("may not read `victim_secrets`"),
    ),
    (
        "INSERT INTO blog_posts SELECT * FROM victim_secrets",
        Some("may not read `victim_secrets`"),
    ),
    (
        "INSERT INTO victim_secrets VALUES (1)",
        Some("may not write to `victim_secrets`"),
    ),
    (
        "UPDATE victim_secrets SET a = 1",
        Some("may not write to `victim_secrets`"),
    ),
    ("DELETE FROM wasmig_modules", Some("belongs to the host")),
    (
        "UPDATE wasmig_modules SET version = '9.9.9'",
        Some("belongs to the host"),
    ),
    (
        "DROP TABLE victim_secrets",
        Some("may not alter, drop, truncate or index `victim_secrets`"),
    ),
    (
        "ALTER TABLE victim_secrets ADD COLUMN x INT",
        Some("belongs to module `victim`"),
    ),
    (
        "ALTER TABLE users ADD COLUMN x INT",
        Some("may not alter, drop, truncate or index `users`"),
    ),
    (
        "INSERT INTO users VALUES (1)",
        Some("may not write to `users`"),
    ),
    (
        "CREATE TABLE victim_secrets (id INT)",
        Some("the name belongs to module `victim`"),
    ),
    ("CREATE TABLE wasmig_evil (id INT)", Some("are the host's")),
    (
        "CREATE INDEX blog_i ON victim_secrets (a)",
        Some("may not alter, drop, truncate or index `victim_secrets`"),
    ),
    (
        "CREATE VIEW blog_v AS SELECT * FROM victim_secrets",
        Some("may not read `victim_secrets`"),
    ),
    (
        "CREATE TRIGGER blog_t AFTER INSERT ON blog_posts BEGIN DELETE FROM victim_secrets; END",
        Some("in the trigger's body"),
    ),
    (
        "CREATE TABLE blog_fk (v INT REFERENCES victim_secrets(id))",
        Some("may not read `victim_secrets`"),
    ),
    (
        "CREATE TABLE blog_fk2 (v INT, FOREIGN KEY (v) REFERENCES victim_secrets(id))",
        Some("may not read `victim_secrets`"),
    ),
    (
        "CREATE TABLE blog_ctas AS SELECT * FROM victim_secrets",
        Some("may not read `victim_secrets`"),
    ),
    ("BEGIN", Some("transaction control belongs to the host")),
    ("COMMIT", Some("transaction control belongs to the host")),
    ("ROLLBACK", Some("transaction control belongs to the host")),
    (
        "SAVEPOINT s",
        Some("transaction control belongs to the host"),
    ),
    (
        "RELEASE SAVEPOINT s",
        Some("transaction control belongs to the host"),
    ),
    (
        "ATTACH DATABASE '/tmp/x.db' AS x",
        Some("attaching databases"),
    ),
    (
        "PRAGMA writable_schema = ON",
        Some("PRAGMA writable_schema is not allowed"),
    ),
    (
        "PRAGMA journal_mode = OFF",
        Some("PRAGMA journal_mode is not allowed"),
    ),
    (
        "PRAGMA other.foreign_keys = OFF",
        Some("targets another schema"),
    ),
    ("VACUUM", Some("")),
    // The catalog describes only the module's own tables and its grants.
    ("SELECT name FROM pragma_table_info('blog_posts')", None),
    (
        "SELECT name, dflt_value FROM pragma_table_info('victim_secrets')",
        Some("pragma_table_info(…) may describe only the module's own tables"),
    ),
    (
        "SELECT name FROM pragma_table_info(?)",
        Some(
            "may describe only the module's own tables and those it was granted, named as a string",
        ),
    ),
    // Functions: an allow-list, whatever the quoting.
    (
        "SELECT lower(title), json_extract(body, '$.a'), datetime('now') FROM blog_posts",
        None,
    ),
    ("SELECT count(*), group_concat(title) FROM blog_posts", None),
    (
        r#"SELECT "load_extension"('x')"#,
        Some("the function `load_extension` is not one a step may call"),
    ),
    (
        "SELECT [readfile]('/etc/passwd')",
        Some("the function `readfile` is not one a step may call"),
    ),
    (
        "SELECT `writefile`('/tmp/x', 'y')",
        Some("the function `writefile` is not one a step may call"),
    ),
    (
        "SELECT sqlite_version()",
        Some("the function `sqlite_version` is not one a step may call"),
    ),
    (
        "SELECT sqlite_rename_table('a', 'b')",
        Some("the function `sqlite_rename_table` is not one a step may call"),
    ),
    (
        "SELECT load_extension('x')",
        Some("the function `load_extension` is not one a step may call"),
    ),
    (
        "SELECT readfile('/etc/passwd')",
        Some("the function `readfile` is not one a step may call"),
    ),
    (
        "SELECT * FROM other.victim_secrets",
        Some("outside this module's reach"),
    ),
    (
        "SELECT * FROM \"Victim_Secrets\"",
        Some("belongs to module `victim`"),
    ),
    (
        "SELECT * FROM main.victim_secrets",
        Some("belongs to module `victim`"),
    ),
    (
        "SELECT 1; DROP TABLE victim_secrets",
        Some("DROP TABLE victim_secrets"),
    ),
    (
        "SELECT 1 /* ; */ ; DELETE FROM wasmig_history -- x",
        Some("belongs to the host"),
    ),
    (
        "WITH victim_secrets AS (SELECT 1) SELECT * FROM victim_secrets",
        Some("has the name of an existing object"),
    ),
    (
        "CREATE TEMP TABLE blog_tmp (id INT)",
        Some("temporary tables are not allowed"),
    ),
    ("this is not sql", Some("cannot be parsed")),
    ("", Some("no statement")),
    ("ANALYZE blog_posts", Some("not allowed")),
    ("DROP TABLE wasmig_history", Some("belongs to the host")),
    ("CREATE INDEX ON blog_posts (title)", Some("")),
    (
        "DROP TRIGGER victim_trigger",
        Some("may not alter, drop, truncate or index `victim_trigger`"),
    ),
    // Real histories drop names that may not exist, and point at tables made later.
    ("DROP TABLE IF EXISTS blog_never_made", None),
    ("DROP TABLE IF EXISTS blog_never_made, blog_posts", None),
    ("DROP INDEX IF EXISTS blog_never_made_idx", None),
    ("DROP TRIGGER IF EXISTS blog_never_made_trg", None),
    (
        "DROP TABLE IF EXISTS victim_secrets",
        Some("belongs to module `victim`"),
    ),
    ("DROP TABLE IF EXISTS users", Some("belongs to the host")),
    (
        "DROP TABLE IF EXISTS wasmig_history",
        Some("belongs to the host"),
    ),
    ("DROP TABLE blog_never_made", Some("does not own it")),
    (
        "CREATE TABLE blog_votes (id INTEGER PRIMARY KEY, poll INTEGER REFERENCES blog_polls(id))",
        None,
    ),
    (
        "CREATE TABLE blog_votes (id INTEGER PRIMARY KEY, s TEXT REFERENCES victim_secrets(a))",
        Some("may not read `victim_secrets`"),
    ),
    (
        "SELECT * FROM blog_polls",
        Some("may not read `blog_polls`"),
    ),
    ("PRAGMA foreign_keys = ON", None),
    ("PRAGMA main.foreign_keys = 0", None),
];

const POSTGRES: &[Case] = &[
    ("SELECT * FROM blog_posts WHERE id = $1", None),
    ("SELECT * FROM public.blog_posts", None),
    (
        "CREATE TABLE blog_pg (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY)",
        None,
    ),
    (
        "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()",
        None,
    ),
    (
        "SELECT COUNT(*) FROM information_schema.columns WHERE table_name = $1",
        None,
    ),
    (
        "INSERT INTO blog_posts (title) VALUES ($1) RETURNING id",
        None,
    ),
    (
        "ALTER TABLE blog_posts ADD COLUMN IF NOT EXISTS rating INT",
        None,
    ),
    (
        "UPDATE blog_posts SET title = u.name FROM users u WHERE u.id = blog_posts.author",
        None,
    ),
    ("SELECT pg_read_file('/etc/passwd')", Some("`pg_read_file`")),
    (
        "SELECT * FROM pg_read_file('/etc/passwd')",
        Some("`pg_read_file`"),
    ),
    ("COPY blog_posts TO '/tmp/x'", Some("COPY and LOAD DATA")),
    (
        "COPY (SELECT 1) TO PROGRAM 'id'",
        Some("COPY and LOAD DATA"),
    ),
    ("CREATE EXTENSION dblink", Some("extensions load code")),
    (
        "SET session_replication_role = replica",
        Some("settings is the host's business"),
    ),
    ("SET ROLE postgres", Some("")),
    (
        "GRANT SELECT ON blog_posts TO public",
        Some("privileges, roles and users"),
    ),
    ("CREATE ROLE evil", Some("privileges, roles and users")),
    // A CTE's name counts only at the level that defines it.
    (
        "SELECT * FROM (WITH pg_class AS (SELECT 1 AS x) SELECT * FROM pg_class) a, pg_class b",
        Some("pg_class"),
    ),
    (
        "WITH x AS (SELECT 1 AS n) SELECT * FROM x, (WITH victim_secrets AS (SELECT 2 AS n) SELECT n FROM victim_secrets) v",
        Some("victim_secrets"),
    ),
    (
        "SELECT (WITH users AS (SELECT 1 AS n) SELECT n FROM users) AS v FROM victim_secrets",
        Some("victim_secrets"),
    ),
    // Every table a statement reads or writes counts, in every clause.
    (
        "CREATE TABLE blog_clone (LIKE victim_secrets INCLUDING ALL)",
        Some("unparsable SQL is refused"),
    ),
    (
        "INSERT INTO blog_posts (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET title = (SELECT secret FROM victim_secrets)",
        Some("may not read `victim_secrets`"),
    ),
    (
        "INSERT INTO users (id) VALUES (1) ON CONFLICT DO NOTHING",
        Some("may not write to `users`"),
    ),
    (
        "MERGE INTO victim_secrets v USING blog_posts b ON v.id = b.id WHEN MATCHED THEN DELETE",
        Some("victim_secrets"),
    ),
    // Functions: an allow-list, whatever the quoting; code that runs SQL from a string,
    // reads files, settings or other objects' definitions is not on it.
    (
        "SELECT lower(title), now(), pg_catalog.now(), gen_random_uuid() FROM blog_posts",
        None,
    ),
    (
        "SELECT jsonb_build_object('t', title), to_tsvector('english', title) FROM blog_posts",
        None,
    ),
    (
        "SELECT * FROM ts_stat('SELECT to_tsvector(secret) FROM victim_secrets')",
        Some("ts_stat"),
    ),
    (
        "SELECT ts_rewrite('a'::tsquery, 'SELECT secret, secret FROM victim_secrets')",
        Some("the function `ts_rewrite` is not one a step may call"),
    ),
    (
        r#"SELECT "query_to_xml"('SELECT * FROM victim_secrets', true, true, '')"#,
        Some("the function `query_to_xml` is not one a step may call"),
    ),
    (
        r#"SELECT U&"\0071uery_to_xml"('SELECT 1', true, true, '')"#,
        // Read as `U & "…"`: a function nobody allowed, whatever it decodes to.
        Some("uery_to_xml` is not one a step may call"),
    ),
    (r#"SELECT * FROM U&"\0076ictim_secrets""#, Some("")),
    (
        "SELECT current_setting('data_directory')",
        Some("the function `current_setting` is not one a step may call"),
    ),
    (
        "SELECT pg_get_viewdef('victim_view'::regclass)",
        Some("the function `pg_get_viewdef` is not one a step may call"),
    ),
    (
        "SELECT col_description('victim_secrets'::regclass, 1)",
        Some("the function `col_description` is not one a step may call"),
    ),
    (
        "SELECT version()",
        Some("the function `version` is not one a step may call"),
    ),
    (
        "SELECT xpath('/a', '<a/>')",
        Some("the function `xpath` is not one a step may call"),
    ),
    (
        "SELECT other_schema.lower('x')",
        Some("the function `other_schema.lower` is not one a step may call"),
    ),
    (
        "SELECT lo_import('/etc/passwd')",
        Some("the function `lo_import` is not one a step may call"),
    ),
    (
        "SELECT * FROM other_schema.blog_posts",
        Some("outside this module's reach"),
    ),
    ("SELECT pg_sleep(100)", Some("`pg_sleep`")),
    (
        "SELECT pg_advisory_unlock_all()",
        Some("`pg_advisory_unlock_all`"),
    ),
    (
        "CREATE FUNCTION f() RETURNS int AS 'select 1' LANGUAGE sql",
        Some("allowed only where the database confines it"),
    ),
    (
        "SELECT * INTO blog_copy FROM blog_posts",
        Some("SELECT … INTO is not allowed"),
    ),
    ("CREATE USER evil", Some("privileges, roles and users")),
    (
        "SELECT * FROM victim_secrets",
        Some("belongs to module `victim`"),
    ),
    (
        "SELECT * FROM pg_catalog.pg_authid",
        Some("outside this module's reach"),
    ),
    (
        "SELECT query_to_xml('select * from victim_secrets', true, true, '')",
        Some("`query_to_xml`"),
    ),
    (
        "CREATE TRIGGER blog_t AFTER INSERT ON blog_posts FOR EACH ROW EXECUTE FUNCTION f()",
        Some("executes a function"),
    ),
    (
        "INSERT INTO blog_posts (id) SELECT n FROM generate_series(1, 100) AS n",
        None,
    ),
    (
        "SELECT x FROM unnest(ARRAY[1, 2]) AS x JOIN blog_posts p ON p.id = x",
        None,
    ),
    (
        "SELECT * FROM pg_ls_dir('.') AS f",
        Some("`pg_ls_dir` in FROM is not one a step may call"),
    ),
    (
        "SELECT * FROM ts_stat('SELECT secret FROM users') AS s",
        Some("`ts_stat` in FROM"),
    ),
    (
        "SELECT * FROM dblink('host=x', 'SELECT 1') AS t(a int)",
        Some(""),
    ),
    (
        "SELECT * FROM generate_series(1, (SELECT count(*) FROM victim_secrets)) AS n",
        Some("may not read `victim_secrets`"),
    ),
    (
        "DROP TABLE blog_posts CASCADE",
        Some("CASCADE would also drop"),
    ),
    (
        "DROP VIEW IF EXISTS blog_posts CASCADE",
        Some("CASCADE would also drop"),
    ),
    ("DROP TABLE IF EXISTS blog_never_made CASCADE", None),
    (
        "TRUNCATE blog_posts CASCADE",
        Some("CASCADE would also drop"),
    ),
    (
        "ALTER TABLE blog_posts DROP COLUMN title CASCADE",
        Some("CASCADE would also drop"),
    ),
    (
        "ALTER TABLE blog_posts DROP CONSTRAINT blog_posts_pkey CASCADE",
        Some("CASCADE would also drop"),
    ),
    ("ALTER TABLE blog_posts DROP COLUMN title", None),
    (
        "WITH d AS (UPDATE users SET name = 'x' RETURNING *) SELECT count(*) FROM d",
        Some("may not write to `users`"),
    ),
    (
        "WITH d AS (DELETE FROM victim_secrets RETURNING *) SELECT count(*) FROM d",
        Some("may not write to `victim_secrets`"),
    ),
    (
        "WITH d AS (UPDATE blog_posts SET title = 'x' RETURNING id) SELECT count(*) FROM d",
        None,
    ),
    (
        "CREATE TABLE blog_kids (x int) INHERITS (users)",
        Some("INHERITS and PARTITION OF"),
    ),
    (
        "SELECT setval('users_id_seq', 1)",
        Some("is not the module's"),
    ),
    (
        "SELECT nextval('public.users_id_seq'::regclass)",
        Some("is not the module's"),
    ),
    (
        "SELECT setval(pg_get_serial_sequence('users', 'id'), 1)",
        Some("as a string"),
    ),
    (
        "SELECT \"pg_read_file\"('/etc/passwd')",
        Some("`pg_read_file`"),
    ),
    ("SET LOCAL lock_timeout = '5s'", None),
    ("SET LOCAL statement_timeout TO 0", None),
    ("SET lock_timeout = 1000", None),
    ("SET CONSTRAINTS ALL DEFERRED", None),
    ("SET CONSTRAINTS blog_posts_author_fk IMMEDIATE", None),
    ("SET CONSTRAINTS ALL DEFERRED; DROP TABLE users", Some("")),
    (
        "SET LOCAL work_mem = '1GB'",
        Some("may change only lock_timeout, statement_timeout"),
    ),
    (
        "SET LOCAL lock_timeout = current_setting('x')",
        Some("plain value"),
    ),
    (
        "SET search_path = victim",
        Some("changing session or server settings"),
    ),
    ("DROP TABLE IF EXISTS blog_never_made CASCADE", None),
    (
        "DROP TABLE IF EXISTS public.users",
        Some("belongs to the host"),
    ),
    (
        "ALTER TABLE blog_posts ADD COLUMN poll INT REFERENCES blog_polls (id)",
        None,
    ),
];

const MYSQL: &[Case] = &[
    ("SELECT * FROM `blog_posts`", None),
    ("SELECT * FROM app.blog_posts", None),
    (
        "CREATE TABLE blog_m (id BIGINT AUTO_INCREMENT PRIMARY KEY)",
        None,
    ),
    ("RENAME TABLE blog_posts TO blog_old", None),
    (
        "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = DATABASE()",
        None,
    ),
    ("INSERT INTO blog_posts (title) VALUES (?)", None),
    // Every table a statement reads or writes counts, in every clause.
    (
        "CREATE TABLE blog_clone LIKE victim_secrets",
        Some("CREATE TABLE … LIKE/CLONE is not allowed; spell out the columns"),
    ),
    (
        "INSERT INTO users (id) VALUES (1) ON DUPLICATE KEY UPDATE name = 'x'",
        Some("may not write to `users`"),
    ),
    (
        "INSERT INTO blog_posts (id) VALUES (1) ON DUPLICATE KEY UPDATE title = (SELECT secret FROM victim_secrets)",
        Some("may not read `victim_secrets`"),
    ),
    (
        "REPLACE INTO victim_secrets VALUES (1)",
        Some("may not write to `victim_secrets`"),
    ),
    (
        "DELETE blog_posts, victim_secrets FROM blog_posts JOIN victim_secrets ON blog_posts.id = victim_secrets.id",
        Some("victim_secrets"),
    ),
    // Functions: an allow-list, whatever the quoting.
    (
        "SELECT LOWER(title), NOW(), UUID(), JSON_OBJECT('t', title), IFNULL(title, '') FROM blog_posts",
        None,
    ),
    // An index prefix length reads like a call but is none; a call in a key part still is.
    (
        "CREATE INDEX blog_title_prefix ON blog_posts (title(20))",
        None,
    ),
    (
        "CREATE TABLE blog_links (url TEXT, UNIQUE KEY blog_links_url (url(191)))",
        None,
    ),
    (
        "CREATE TABLE blog_slow (a INT, KEY blog_slow_k ((SLEEP(10))))",
        Some("the function `sleep` is not one a step may call"),
    ),
    (
        "SELECT `LOAD_FILE`('/etc/passwd')",
        Some("the function `load_file` is not one a step may call"),
    ),
    (
        "SELECT ExtractValue('<a/>', '/a')",
        Some("the function `extractvalue` is not one a step may call"),
    ),
    (
        "SELECT UpdateXML('<a/>', '/a', '<b/>')",
        Some("the function `updatexml` is not one a step may call"),
    ),
    (
        "SELECT USER()",
        Some("the function `user` is not one a step may call"),
    ),
    (
        "SELECT VERSION()",
        Some("the function `version` is not one a step may call"),
    ),
    (
        "SELECT `sleep`(10)",
        Some("the function `sleep` is not one a step may call"),
    ),
    (
        "SELECT LOAD_FILE('/etc/passwd')",
        Some("the function `load_file` is not one a step may call"),
    ),
    ("SELECT * FROM blog_posts INTO OUTFILE '/tmp/x'", Some("")),
    ("LOAD DATA INFILE '/tmp/x' INTO TABLE blog_posts", Some("")),
    (
        "SET GLOBAL read_only = 1",
        Some("settings is the host's business"),
    ),
    ("SELECT sys_exec('id')", Some("`sys_exec`")),
    ("SELECT GET_LOCK('x', 1)", Some("`get_lock`")),
    ("LOCK TABLES blog_posts WRITE", Some("table locks")),
    (
        "SELECT * FROM mysql.user",
        Some("outside this module's reach"),
    ),
    (
        "SELECT * FROM `victim_secrets`",
        Some("belongs to module `victim`"),
    ),
    (
        "RENAME TABLE victim_secrets TO blog_mine",
        Some("may not alter, drop, truncate or index `victim_secrets`"),
    ),
    ("CREATE USER evil", Some("privileges, roles and users")),
    (
        "START TRANSACTION",
        Some("transaction control belongs to the host"),
    ),
    ("SELECT SLEEP(10)", Some("`sleep`")),
    (
        "SELECT * FROM other_db.victim_secrets",
        Some("outside this module's reach"),
    ),
    ("SET FOREIGN_KEY_CHECKS = 0", None),
    ("SET foreign_key_checks = 1, unique_checks = 0", None),
    ("SET SESSION UNIQUE_CHECKS = ON", None),
    ("SET @@session.foreign_key_checks = 0", None),
    (
        "SET GLOBAL foreign_key_checks = 0",
        Some("changing session or server settings"),
    ),
    (
        "SET @@global.foreign_key_checks = 0",
        Some("changing session or server settings"),
    ),
    (
        "SET foreign_key_checks = 0, sql_log_bin = 0",
        Some("may change only"),
    ),
    ("SET NAMES utf8mb4", Some("")),
    (
        "SET @drop = IF((SELECT COUNT(*) FROM information_schema.table_constraints) > 0, 'ALTER TABLE x DROP FOREIGN KEY y', 'SELECT 1')",
        Some("write this step as a component"),
    ),
    (
        "PREPARE stmt FROM @drop",
        Some("write this step as a component"),
    ),
    ("EXECUTE stmt", Some("")),
    ("SELECT 1 FROM DUAL", None),
    (
        "INSERT INTO blog_posts (title) SELECT 'hello' FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM blog_posts WHERE title = 'hello')",
        None,
    ),
    ("SELECT * FROM `dual`", Some("may not read")),
    (
        "CREATE TABLE blog_votes (id INT PRIMARY KEY, poll INT, FOREIGN KEY (poll) REFERENCES blog_polls (id)) ENGINE=InnoDB",
        None,
    ),
    ("DROP TABLE IF EXISTS blog_never_made", None),
    (
        "DROP TABLE IF EXISTS app.victim_secrets",
        Some("belongs to module `victim`"),
    ),
    (
        "CREATE TRIGGER blog_audit AFTER UPDATE ON blog_posts FOR EACH ROW BEGIN IF NOT (NEW.title <=> OLD.title) THEN INSERT INTO blog_posts_status (id) VALUES (NEW.id); END IF; END",
        None,
    ),
    (
        "CREATE TRIGGER blog_stamp BEFORE INSERT ON blog_posts FOR EACH ROW BEGIN SET NEW.title = UPPER(NEW.title); END",
        None,
    ),
    (
        "CREATE TRIGGER blog_spy AFTER INSERT ON blog_posts FOR EACH ROW BEGIN IF NEW.id > 0 THEN DELETE FROM victim_secrets; END IF; END",
        Some("may not write to `victim_secrets`"),
    ),
    (
        "CREATE TRIGGER blog_peek BEFORE INSERT ON blog_posts FOR EACH ROW BEGIN SET NEW.title = (SELECT a FROM victim_secrets LIMIT 1); END",
        Some("may not read `victim_secrets`"),
    ),
    (
        "CREATE TRIGGER blog_cond AFTER INSERT ON blog_posts FOR EACH ROW BEGIN IF (SELECT COUNT(*) FROM victim_secrets) > 0 THEN INSERT INTO blog_posts_status (id) VALUES (1); END IF; END",
        Some("may not read `victim_secrets`"),
    ),
    (
        "CREATE TRIGGER blog_var BEFORE INSERT ON blog_posts FOR EACH ROW BEGIN SET @leak = NEW.title; END",
        Some("write this step as a component"),
    ),
    (
        "CREATE TRIGGER blog_sleepy BEFORE INSERT ON blog_posts FOR EACH ROW BEGIN IF SLEEP(5) THEN SET NEW.title = 'x'; END IF; END",
        Some("`sleep`"),
    ),
    (
        "INSERT INTO blog_posts (title) SELECT a /*M! FROM victim_secrets */",
        Some("executable comments"),
    ),
    (
        "UPDATE blog_posts /*!50100 JOIN users */ SET title = 'x'",
        Some("executable comments"),
    ),
    (
        "DROP TABLE IF EXISTS blog_gone /*M! , victim_secrets */",
        Some("executable comments"),
    ),
    (
        "SELECT /*+ SET_VAR(foreign_key_checks = 0) */ title FROM blog_posts",
        Some("optimizer hints (`/*+ … */`)"),
    ),
    ("SELECT title FROM blog_posts /* + not a hint */", None),
    (
        "SET FOREIGN_KEY_CHECKS = 0 /*!, GLOBAL max_connections = 99 */",
        Some("executable comments"),
    ),
    (
        "INSERT INTO blog_posts (title) VALUES ('/*! not code in a string */') /* a comment */",
        None,
    ),
    ("SELECT title FROM blog_posts -- /*! a line comment\n", None),
    (
        "INSERT INTO blog_posts (title) SELECT `LOAD_FILE`('/etc/passwd')",
        Some("`load_file`"),
    ),
    (
        "UPDATE blog_posts p JOIN users u ON u.id = p.author SET u.name = 'pwned'",
        Some("may not write to `users`"),
    ),
    (
        "UPDATE blog_posts JOIN users ON users.id = blog_posts.author SET name = 'pwned'",
        Some("may not write to `users`"),
    ),
    (
        "UPDATE blog_posts p JOIN users u ON u.id = p.author SET p.title = u.name",
        None,
    ),
    (
        "ALTER TABLE blog_posts ENGINE='MRG_MyISAM'",
        Some("ENGINE=mrg_myisam"),
    ),
    ("ALTER TABLE blog_posts ENGINE = `CSV`", Some("ENGINE=csv")),
    (
        "CREATE TABLE blog_mm (id INT, s TEXT) ENGINE=MRG_MyISAM UNION=(users)",
        Some("ENGINE=mrg_myisam"),
    ),
    (
        "CREATE TABLE blog_mm (id INT) ENGINE=InnoDB UNION=(users)",
        Some("CREATE TABLE … UNION"),
    ),
    (
        "CREATE TABLE blog_far (id INT) ENGINE=FEDERATED CONNECTION='mysql://u@h/db/users'",
        Some("ENGINE=federated"),
    ),
    (
        "CREATE TABLE blog_far (id INT) DATA DIRECTORY='/tmp/elsewhere'",
        Some(""),
    ),
    (
        "CREATE TABLE blog_ok (id INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin COMMENT='ok' AUTO_INCREMENT=10",
        None,
    ),
    (
        "ALTER TABLE blog_posts ENGINE=InnoDB, COMMENT='posts'",
        None,
    ),
    (
        "ALTER TABLE blog_posts CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        None,
    ),
    (
        "ALTER TABLE app.blog_posts ROW_FORMAT=DYNAMIC AUTO_INCREMENT=100",
        None,
    ),
    (
        "ALTER TABLE users ENGINE=InnoDB",
        Some("may not alter `users`"),
    ),
    (
        "ALTER TABLE blog_posts ENGINE=MRG_MyISAM UNION=(users)",
        Some("ENGINE=mrg_myisam"),
    ),
    (
        "ALTER TABLE blog_posts UNION=(users)",
        Some("ALTER TABLE … UNION"),
    ),
    (
        "ALTER TABLE blog_posts DATA DIRECTORY='/tmp'",
        Some("ALTER TABLE … DATA"),
    ),
    (
        "ALTER TABLE blog_posts ENGINE=FEDERATED CONNECTION='mysql://u@h/db/users'",
        Some("ENGINE=federated"),
    ),
];

fn run(dialect: Dialect, cases: &[Case]) -> Vec<String> {
    run_with(&policy(dialect), dialect, cases)
}

fn run_with(policy: &Policy, dialect: Dialect, cases: &[Case]) -> Vec<String> {
    let mut wrong = Vec::new();
    for (sql, expected) in cases {
        let outcome = policy.check(sql);
        match (expected, &outcome) {
            (None, Ok(_)) => {}
            (Some(words), Err(denial))
                if denial.reason.contains(words) || denial.to_string().contains(words) => {}
            _ => wrong.push(format!(
                "{dialect}: `{sql}` expected {expected:?}, got {outcome:?}"
            )),
        }
    }
    wrong
}

#[test]
fn sqlite_statements() {
    let wrong = run(Dialect::Sqlite, SQLITE);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn postgres_statements() {
    let wrong = run(Dialect::Postgres, POSTGRES);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn mysql_statements() {
    let wrong = run(Dialect::MySql, MYSQL);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn there_are_a_hundred_cases_and_both_verdicts() {
    let all: Vec<&Case> = SQLITE.iter().chain(POSTGRES).chain(MYSQL).collect();
    assert!(all.len() >= 100, "{} cases", all.len());
    assert!(all.iter().filter(|(_, e)| e.is_none()).count() >= 30);
    assert!(all.iter().filter(|(_, e)| e.is_some()).count() >= 60);
}

/// What a module may do on PostgreSQL when the database confines it to its own role.
const POSTGRES_CONFINED: &[Case] = &[
    (
        "CREATE FUNCTION blog_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$",
        None,
    ),
    (
        "CREATE OR REPLACE FUNCTION blog_one() RETURNS int LANGUAGE sql AS 'select 1'",
        None,
    ),
    (
        "CREATE FUNCTION blog_c() RETURNS int LANGUAGE c AS 'libc.so', 'abs'",
        Some("LANGUAGE c are not allowed"),
    ),
    (
        "CREATE FUNCTION blog_py() RETURNS int LANGUAGE plpython3u AS 'return 1'",
        Some("LANGUAGE plpython3u"),
    ),
    (
        "CREATE FUNCTION victim_secrets() RETURNS int LANGUAGE sql AS 'select 1'",
        Some("belongs to module `victim`"),
    ),
    (
        "CREATE TRIGGER blog_posts_touch BEFORE UPDATE ON blog_posts FOR EACH ROW EXECUTE FUNCTION blog_stamp()",
        None,
    ),
    (
        "CREATE TRIGGER blog_posts_spy BEFORE UPDATE ON blog_posts FOR EACH ROW EXECUTE FUNCTION users_audit()",
        Some("may not alter, drop, truncate or index `users_audit`"),
    ),
    (
        "CREATE TRIGGER users_spy BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION blog_stamp()",
        Some("`users`: it belongs to the host"),
    ),
    (
        "DO $$ BEGIN UPDATE blog_posts SET title = title; END $$",
        None,
    ),
    (
        "DO LANGUAGE plperlu $$ system('id') $$",
        Some("LANGUAGE plperlu"),
    ),
    (
        "DO $$ BEGIN END $$; DROP TABLE users",
        Some("cannot be parsed"),
    ),
    ("CREATE EXTENSION IF NOT EXISTS citext", None),
    (
        "CREATE EXTENSION IF NOT EXISTS dblink",
        Some("this host allows citext"),
    ),
    (
        "CREATE EXTENSION citext WITH SCHEMA victim",
        Some("no SCHEMA, VERSION or CASCADE"),
    ),
    (
        "CREATE EXTENSION IF NOT EXISTS citext WITH CASCADE",
        Some("no SCHEMA, VERSION or CASCADE"),
    ),
    ("CREATE TYPE blog_state AS ENUM ('draft', 'live')", None),
    (
        "CREATE TYPE users AS ENUM ('x')",
        Some("belongs to the host"),
    ),
    ("ALTER TYPE blog_kind ADD VALUE IF NOT EXISTS 'page'", None),
    (
        "ALTER TYPE user_role ADD VALUE 'root'",
        Some("may not alter"),
    ),
    ("COMMENT ON TABLE blog_posts IS 'posts'", None),
    ("COMMENT ON COLUMN blog_posts.title IS 'the title'", None),
    (
        "COMMENT ON TABLE users IS 'mine now'",
        Some("may not alter"),
    ),
    (
        "COMMENT ON COLUMN users.email IS 'x'",
        Some("may not alter"),
    ),
    (
        "CREATE SEQUENCE blog_serial START WITH 10 INCREMENT BY 1 OWNED BY blog_posts.id",
        None,
    ),
    (
        "CREATE SEQUENCE blog_serial OWNED BY users.id",
        Some("may not alter"),
    ),
    ("ALTER SEQUENCE blog_seq RESTART WITH 5", None),
    (
        "ALTER SEQUENCE users_id_seq RESTART WITH 1",
        Some("may not alter"),
    ),
    (
        "ALTER SEQUENCE blog_seq OWNED BY users.id",
        Some("may not alter"),
    ),
    ("REFRESH MATERIALIZED VIEW CONCURRENTLY blog_stats", None),
    (
        "REFRESH MATERIALIZED VIEW user_stats",
        Some("may not alter"),
    ),
    (
        "CREATE MATERIALIZED VIEW blog_counts AS SELECT count(*) FROM blog_posts WITH DATA",
        None,
    ),
    (
        "CREATE MATERIALIZED VIEW blog_leak AS SELECT a FROM victim_secrets WITH NO DATA",
        Some("may not read `victim_secrets`"),
    ),
    ("DROP MATERIALIZED VIEW blog_stats", None),
    ("DROP SEQUENCE IF EXISTS blog_never_made_seq", None),
    ("DROP TYPE user_role", Some("belongs to the host")),
    ("DROP FUNCTION IF EXISTS blog_stamp()", None),
    ("DROP FUNCTION users_audit()", Some("belongs to the host")),
];

#[test]
fn postgres_code_where_the_database_confines_the_module() {
    let mut objects = BTreeMap::new();
    for (name, owner) in [
        ("blog_posts", Some("blog")),
        ("blog_stamp", Some("blog")),
        ("blog_kind", Some("blog")),
        ("blog_seq", Some("blog")),
        ("blog_stats", Some("blog")),
        ("victim_secrets", Some("victim")),
        ("users", None),
        ("users_audit", None),
        ("user_role", None),
        ("users_id_seq", None),
        ("user_stats", None),
    ] {
        objects.insert(name.to_owned(), owner.map(str::to_owned));
    }
    let mut policy = Policy::new(
        Dialect::Postgres,
        "blog",
        Some("public"),
        Catalog { objects },
        Grants::default(),
    )
    .allow_extensions(["citext".to_owned()]);
    policy.set_confined(true);
    let wrong = run_with(&policy, Dialect::Postgres, POSTGRES_CONFINED);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn effects_track_what_a_module_creates_renames_and_drops() {
    let mut policy = policy(Dialect::Sqlite);
    let effects = policy
        .check("CREATE TABLE blog_new (id INT); CREATE INDEX blog_new_id ON blog_new (id)")
        .unwrap();
    assert_eq!(
        effects,
        [
            Effect::Created {
                name: "blog_new".into(),
                kind: ObjectKind::Table
            },
            Effect::Created {
                name: "blog_new_id".into(),
                kind: ObjectKind::Index
            },
            Effect::Altered {
                name: "blog_new".into()
            },
        ]
    );
    policy.apply(&effects);
    assert!(policy.check("INSERT INTO blog_new VALUES (1)").is_ok());
    let renamed = policy
        .check("ALTER TABLE blog_new RENAME TO blog_newer")
        .unwrap();
    assert_eq!(
        renamed,
        [Effect::Renamed {
            from: "blog_new".into(),
            to: "blog_newer".into()
        }]
    );
    policy.apply(&renamed);
    assert!(
        policy.check("SELECT * FROM blog_new").is_err(),
        "the old name is gone"
    );
    let dropped = policy.check("DROP TABLE blog_newer").unwrap();
    policy.apply(&dropped);
    assert!(!policy.owned().contains("blog_newer"));
}

#[test]
fn a_host_can_require_a_name_prefix() {
    let policy = policy(Dialect::Sqlite).require_prefix("blog_");
    assert!(policy.check("CREATE TABLE blog_ok (id INT)").is_ok());
    let denial = policy.check("CREATE TABLE posts (id INT)").unwrap_err();
    assert!(
        denial
            .reason
            .contains("requires module `blog` to name its objects `blog_…`"),
        "{denial}"
    );
}

/// Statements, each with the rule (and the object) its refusal names.
const RULE_CASES: &[(Dialect, &str, Rule, Option<&str>)] = &[
    (
        Dialect::Sqlite,
        "SELECT * FROM victim_secrets",
        Rule::Access,
        Some("victim_secrets"),
    ),
    (
        Dialect::Sqlite,
        "UPDATE users SET name = 'x'",
        Rule::Access,
        Some("users"),
    ),
    (
        Dialect::Postgres,
        "SELECT * FROM other.blog_posts",
        Rule::Access,
        None,
    ),
    (
        Dialect::Sqlite,
        "CREATE TABLE victim_secrets (id INTEGER)",
        Rule::Name,
        Some("victim_secrets"),
    ),
    (
        Dialect::Sqlite,
        "CREATE TABLE wasmig_x (id INTEGER)",
        Rule::Name,
        Some("wasmig_x"),
    ),
    (
        Dialect::Sqlite,
        "WITH users AS (SELECT 1) SELECT * FROM users",
        Rule::Name,
        Some("users"),
    ),
    (
        Dialect::Sqlite,
        "SELECT load_extension('x')",
        Rule::Function,
        Some("load_extension"),
    ),
    (
        Dialect::Postgres,
        "SELECT setval('users_id_seq', 1)",
        Rule::Access,
        Some("users_id_seq"),
    ),
    (Dialect::Sqlite, "COMMIT", Rule::TransactionControl, None),
    (
        Dialect::Postgres,
        "SET search_path = x",
        Rule::Setting,
        None,
    ),
    (
        Dialect::Sqlite,
        "PRAGMA writable_schema = 1",
        Rule::Setting,
        None,
    ),
    (
        Dialect::Sqlite,
        "SELEC * FROM blog_posts",
        Rule::Unreadable,
        None,
    ),
    (
        Dialect::MySql,
        "/*!50000 DROP TABLE users */ SELECT 1",
        Rule::Unreadable,
        None,
    ),
    (Dialect::MySql, "SET @q = 'x'", Rule::Unreadable, None),
    (
        Dialect::Sqlite,
        "CREATE TEMP TABLE blog_t (id INTEGER)",
        Rule::Statement,
        None,
    ),
    (
        Dialect::Postgres,
        "COPY blog_posts TO '/tmp/x'",
        Rule::Statement,
        None,
    ),
    (
        Dialect::Postgres,
        "CREATE EXTENSION IF NOT EXISTS plpython3u",
        Rule::Extension,
        None,
    ),
    (
        Dialect::Postgres,
        "DO $$ BEGIN END $$ LANGUAGE plperl",
        Rule::Code,
        None,
    ),
    (
        Dialect::MySql,
        "ALTER TABLE blog_posts ENGINE=MRG_MyISAM",
        Rule::Statement,
        None,
    ),
];

/// Every refusal names the rule it applies and, where one is concerned, the object: a host
/// tells an access violation from an unreadable statement without reading the message.
#[test]
fn each_refusal_names_its_rule_and_object() {
    let cases = RULE_CASES;
    let mut wrong = Vec::new();
    for (dialect, sql, rule, object) in cases {
        match policy(*dialect).check(sql) {
            Err(denial) if denial.rule == *rule && denial.object.as_deref() == *object => {}
            other => wrong.push(format!(
                "{dialect}: `{sql}` expected {rule:?} about {object:?}, got {other:?}"
            )),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// What a cursor may run: one query that only reads, in every dialect; the ways of writing
/// through something that starts like a query are not one.
#[test]
fn a_cursor_runs_only_queries_that_read() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql] {
        let policy = policy(dialect);
        for sql in [
            "SELECT * FROM blog_posts",
            "  select id from blog_posts where id > 3 order by id",
            "WITH recent AS (SELECT id FROM blog_posts) SELECT * FROM recent",
            "SELECT 1 UNION ALL SELECT 2",
        ] {
            assert!(policy.reads_only(sql), "{dialect:?}: {sql}");
        }
        for sql in [
            "INSERT INTO blog_posts (title) VALUES ('x')",
            "DELETE FROM blog_posts",
            "CREATE TABLE blog_more (id INTEGER)",
            "SELECT 1; DELETE FROM blog_posts",
            "SELECT * INTO blog_copy FROM blog_posts",
            "not sql at all",
            "",
        ] {
            assert!(!policy.reads_only(sql), "{dialect:?}: {sql}");
        }
    }
    let postgres = policy(Dialect::Postgres);
    assert!(
        !postgres
            .reads_only("WITH gone AS (DELETE FROM blog_posts RETURNING id) SELECT * FROM gone")
    );
}
