//! A database's schema read object by object from its own catalog, so that two databases built
//! different ways (a fresh install and an upgrade, wasmig and the database's own client) can be
//! compared and their differences named.
//!
//! Each object is a line `kind name` → description: SQLite's schema table and what its pragmas
//! say of each table's columns, indexes and foreign keys; PostgreSQL's relations, columns,
//! constraints, indexes, views, triggers, functions, types, sequences, comments and
//! extensions; MariaDB/MySQL's tables, columns, indexes, constraints, views and triggers.
//! wasmig's own ledger is left out.

use std::collections::BTreeMap;

use wasmig_db::{Database, Dialect, Value};

/// Every object of a database's home schema but wasmig's ledger: `kind name` → description.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema(pub BTreeMap<String, String>);

/// How an object differs between two schemas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// Only the first schema has the object.
    OnlyInFirst {
        /// `kind name`.
        key: String,
        /// Its description.
        description: String,
    },
    /// Only the second schema has the object.
    OnlyInSecond {
        /// `kind name`.
        key: String,
        /// Its description.
        description: String,
    },
    /// Both have it, described differently.
    Changed {
        /// `kind name`.
        key: String,
        /// In the first schema.
        first: String,
        /// In the second schema.
        second: String,
    },
}

impl Schema {
    /// Reads the schema of `db`.
    pub async fn read(db: &Database) -> wasmig_db::Result<Schema> {
        let mut objects = BTreeMap::new();
        let own_name = match db.dialect() {
            Dialect::MySql => db
                .query("SELECT CAST(DATABASE() AS CHAR)", &[])
                .await?
                .rows
                .first()
                .map(|r| text(&r[0])),
            _ => None,
        };
        let queries = match db.dialect() {
            Dialect::Sqlite => SQLITE,
            Dialect::Postgres => POSTGRES,
            Dialect::MySql => MYSQL,
        };
        for sql in queries {
            for row in db.query(sql, &[]).await?.rows {
                let [key, description] = [&row[0], &row[1]].map(text);
                if key.contains("wasmig_") {
                    continue;
                }
                let description = normalise(&description, own_name.as_deref());
                objects
                    .entry(key)
                    .and_modify(|d: &mut String| {
                        d.push_str(" | ");
                        d.push_str(&description);
                    })
                    .or_insert(description);
            }
        }
        Ok(Schema(objects))
    }

    /// A digest of the schema's own text, where the database keeps its schema as text that
    /// everything else derives from (SQLite: every row of `sqlite_master`; the pragmas that
    /// [`Schema::read`] also asks derive from it); `None` elsewhere. Equal digests, equal
    /// schemas — whoever changed what in between, by whatever means.
    pub async fn catalog_digest(db: &Database) -> wasmig_db::Result<Option<String>> {
        if db.dialect() != Dialect::Sqlite {
            return Ok(None);
        }
        let sql = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name";
        let mut hasher = Digester::default();
        for row in db.query(sql, &[]).await?.rows {
            for value in &row {
                hasher.field(&text(value));
            }
        }
        Ok(Some(hasher.finish()))
    }

    /// The objects split by who holds them: `holder` names the holder of an object's
    /// subject (see [`subject`]), or none; objects without one are left out.
    pub fn partition<'h>(
        &self,
        holder: impl Fn(&str) -> Option<&'h str>,
    ) -> BTreeMap<String, Schema> {
        let mut parts: BTreeMap<String, Schema> = BTreeMap::new();
        for (key, description) in &self.0 {
            if let Some(holder) = holder(&subject(key)) {
                parts
                    .entry(holder.to_owned())
                    .or_default()
                    .0
                    .insert(key.clone(), description.clone());
            }
        }
        parts
    }

    /// A digest of every object and its description (hex sha256): equal schemas, equal
    /// fingerprints.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        for (key, description) in &self.0 {
            hasher.update(key.as_bytes());
            hasher.update([0]);
            hasher.update(description.as_bytes());
            hasher.update([0]);
        }
        hex(&hasher.finalize())
    }

    /// The schema as JSON (an object of key → description), to keep it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".to_owned())
    }

    /// A schema kept with [`Schema::to_json`].
    pub fn from_json(json: &str) -> Result<Schema, serde_json::Error> {
        serde_json::from_str(json).map(Schema)
    }

    /// How `other` differs from this schema, object by object, in the order of their keys.
    pub fn compare(&self, other: &Schema) -> Vec<Difference> {
        let mut out = Vec::new();
        for (key, mine) in &self.0 {
            match other.0.get(key) {
                None => out.push(Difference::OnlyInFirst {
                    key: key.clone(),
                    description: mine.clone(),
                }),
                Some(theirs) if theirs != mine => out.push(Difference::Changed {
                    key: key.clone(),
                    first: mine.clone(),
                    second: theirs.clone(),
                }),
                Some(_) => {}
            }
        }
        for (key, theirs) in &other.0 {
            if !self.0.contains_key(key) {
                out.push(Difference::OnlyInSecond {
                    key: key.clone(),
                    description: theirs.clone(),
                });
            }
        }
        out.sort_by(|a, b| a.key().cmp(b.key()));
        out
    }

    /// The differences from `other`, one line per object ("" when the same), each side named
    /// by `names`.
    pub fn differences(&self, other: &Schema, names: (&str, &str)) -> String {
        self.compare(other)
            .iter()
            .map(|difference| difference.describe(names) + "\n")
            .collect()
    }
}

impl Difference {
    /// The object's `kind name`.
    pub fn key(&self) -> &str {
        match self {
            Difference::OnlyInFirst { key, .. }
            | Difference::OnlyInSecond { key, .. }
            | Difference::Changed { key, .. } => key,
        }
    }

    /// One line (two for a change) naming the object and each side by `names`.
    pub fn describe(&self, names: (&str, &str)) -> String {
        match self {
            Difference::OnlyInFirst { key, description } => {
                format!("only in {}: {key}: {description}", names.0)
            }
            Difference::OnlyInSecond { key, description } => {
                format!("only in {}: {key}: {description}", names.1)
            }
            Difference::Changed { key, first, second } => {
                format!(
                    "{key} differs:\n  {}: {first}\n  {}: {second}",
                    names.0, names.1
                )
            }
        }
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_owned(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => r.to_string(),
        Value::Text(t) => t.clone(),
        Value::Blob(b) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// A sha256 of text fields, each prefixed with its length (no two lists of fields hash
/// alike by moving a boundary).
#[derive(Default)]
pub struct Digester(sha2::Sha256);

impl Digester {
    /// Adds one field.
    pub fn field(&mut self, field: &str) -> &mut Self {
        use sha2::Digest;
        self.0.update((field.len() as u64).to_le_bytes());
        self.0.update(field.as_bytes());
        self
    }

    /// The digest, lower-case hex.
    pub fn finish(self) -> String {
        use sha2::Digest;
        hex(&self.0.finalize())
    }
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The name an object key is about, lower-case: the name after the kind (`table`,
/// `column`, `index on`, `foreign key`, …), up to a `.`, `:` or `(`.
pub fn subject(key: &str) -> String {
    let rest = ["foreign key ", "index on "]
        .iter()
        .find_map(|kind| key.strip_prefix(kind))
        .or_else(|| key.split_once(' ').map(|(_, rest)| rest))
        .unwrap_or(key);
    rest.split(['.', ':', '('])
        .next()
        .unwrap_or_default()
        .trim()
        .to_lowercase()
}

/// Whitespace runs become one space, and none is kept inside parentheses or before a comma
/// (SQLite keeps a table's text as written, and `ALTER TABLE … ADD COLUMN` splices into it);
/// the database's own name (MySQL view bodies qualify names with it) becomes `<db>`.
fn normalise(description: &str, own_name: Option<&str>) -> String {
    let collapsed = description.split_whitespace().collect::<Vec<_>>().join(" ");
    let tight = collapsed
        .replace(" ,", ",")
        .replace("( ", "(")
        .replace(" )", ")");
    match own_name {
        Some(name) => tight.replace(&format!("`{name}`."), "`<db>`."),
        None => tight,
    }
}

/// SQLite: the schema table, then every table's columns, indexes and foreign keys as SQLite's
/// pragmas describe them, each kind in one query over all tables (whatever their number).
const SQLITE: &[&str] = &[
    "SELECT type || ' ' || name, COALESCE(sql, '(implicit) on ' || tbl_name) \
     FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
    "SELECT 'column ' || m.name || '.' || c.name, c.type || ' notnull=' || c.\"notnull\" \
     || ' default=' || COALESCE(c.dflt_value, '-') || ' pk=' || c.pk || ' hidden=' || c.hidden \
     FROM sqlite_master m, pragma_table_xinfo(m.name) c WHERE m.type = 'table' \
     AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND m.name NOT LIKE 'wasmig\\_%' ESCAPE '\\'",
    "SELECT 'index on ' || m.name || ': ' || il.name, 'unique=' || il.\"unique\" || ' origin=' \
     || il.origin || ' partial=' || il.partial || ' columns=' || \
     (SELECT group_concat(COALESCE(ii.name, '<expr>') || ' ' || ii.\"desc\", ',') \
      FROM pragma_index_xinfo(il.name) ii WHERE ii.key) \
     FROM sqlite_master m, pragma_index_list(m.name) il WHERE m.type = 'table' \
     AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND m.name NOT LIKE 'wasmig\\_%' ESCAPE '\\'",
    "SELECT 'foreign key ' || m.name || '.' || f.id || '.' || f.seq, f.\"from\" || ' -> ' \
     || f.\"table\" || '(' || COALESCE(f.\"to\", '') || ') on update ' || f.on_update \
     || ' on delete ' || f.on_delete \
     FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table' \
     AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND m.name NOT LIKE 'wasmig\\_%' ESCAPE '\\'",
];

/// PostgreSQL: relations, columns, constraints, indexes, views, triggers, functions, types,
/// sequences, comments and extensions of the current schema. Owners and privileges are left
/// out (wasmig gives a module's objects to its role), and so are a function's security and
/// settings (wasmig makes them `SECURITY DEFINER` with a pinned `search_path`).
const POSTGRES: &[&str] = &[
    "SELECT 'relation ' || c.relname, c.relkind::text \
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'v', 'm', 'p', 'S')",
    "SELECT 'column ' || table_name || '.' || column_name, \
     data_type || ' ' || udt_name || ' null=' || is_nullable || ' default=' || \
     COALESCE(column_default, '-') || ' identity=' || COALESCE(identity_generation, '-') || \
     ' generated=' || COALESCE(generation_expression, '-') || ' position=' || ordinal_position \
     FROM information_schema.columns WHERE table_schema = current_schema()",
    "SELECT 'constraint ' || conrelid::regclass::text || '.' || conname, \
     contype::text || ' ' || pg_get_constraintdef(oid) || ' valid=' || convalidated::text \
     FROM pg_constraint WHERE connamespace = current_schema()::regnamespace AND conrelid <> 0",
    "SELECT 'index on ' || i.indrelid::regclass::text || ': ' || i.indexrelid::regclass::text, \
     pg_get_indexdef(i.indexrelid) || ' valid=' || i.indisvalid::text \
     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
     WHERE c.relnamespace = current_schema()::regnamespace",
    "SELECT 'view ' || c.relname, pg_get_viewdef(c.oid) \
     FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace \
     AND c.relkind IN ('v', 'm')",
    "SELECT 'trigger ' || tgrelid::regclass::text || '.' || tgname, pg_get_triggerdef(oid) \
     FROM pg_trigger WHERE NOT tgisinternal \
     AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = current_schema()::regnamespace)",
    "SELECT 'function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', \
     pg_get_function_result(p.oid) || ' language=' || l.lanname || ' volatility=' || \
     p.provolatile::text || ' body=' || md5(p.prosrc) \
     FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang \
     WHERE p.pronamespace = current_schema()::regnamespace",
    "SELECT 'type ' || t.typname, t.typtype::text || ' ' || COALESCE((SELECT \
     string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e \
     WHERE e.enumtypid = t.oid), '') \
     FROM pg_type t WHERE t.typnamespace = current_schema()::regnamespace \
     AND t.typtype IN ('e', 'd', 'c') AND NOT EXISTS (SELECT 1 FROM pg_class c \
     WHERE c.oid = t.typrelid AND c.relkind <> 'c')",
    "SELECT 'sequence ' || sequencename, data_type::text || ' start=' || start_value || \
     ' increment=' || increment_by || ' min=' || min_value || ' max=' || max_value || \
     ' cycle=' || cycle::text FROM pg_sequences WHERE schemaname = current_schema()",
    "SELECT 'comment ' || c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c \
     WHERE c.relnamespace = current_schema()::regnamespace \
     AND obj_description(c.oid, 'pg_class') IS NOT NULL",
    "SELECT 'comment ' || c.relname || '.' || a.attname, col_description(c.oid, a.attnum) \
     FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid \
     WHERE c.relnamespace = current_schema()::regnamespace \
     AND col_description(c.oid, a.attnum) IS NOT NULL",
    "SELECT 'extension ' || extname, extversion FROM pg_extension",
];

/// MySQL/MariaDB: tables with their options, columns, indexes, constraints, views and
/// triggers of the current database.
const MYSQL: &[&str] = &[
    "SELECT CAST(CONCAT('table ', table_name) AS CHAR), CAST(CONCAT(table_type, ' engine=', \
     COALESCE(engine, '-'), ' collation=', COALESCE(table_collation, '-'), ' options=', \
     COALESCE(create_options, ''), ' comment=', COALESCE(table_comment, '')) AS CHAR) \
     FROM information_schema.tables WHERE table_schema = DATABASE()",
    "SELECT CAST(CONCAT('column ', table_name, '.', column_name) AS CHAR), \
     CAST(CONCAT(column_type, ' null=', is_nullable, ' default=', COALESCE(column_default, '-'), \
     ' extra=', extra, ' collation=', COALESCE(collation_name, '-'), ' position=', \
     ordinal_position, ' comment=', column_comment) AS CHAR) \
     FROM information_schema.columns WHERE table_schema = DATABASE()",
    "SELECT CAST(CONCAT('index ', table_name, '.', index_name) AS CHAR), \
     CAST(CONCAT('unique=', 1 - non_unique, ' type=', index_type, ' columns=', \
     GROUP_CONCAT(CONCAT(column_name, COALESCE(CONCAT('(', sub_part, ')'), '')) \
     ORDER BY seq_in_index)) AS CHAR) \
     FROM information_schema.statistics WHERE table_schema = DATABASE() \
     GROUP BY table_name, index_name, non_unique, index_type",
    "SELECT CAST(CONCAT('constraint ', tc.table_name, '.', tc.constraint_name) AS CHAR), \
     CAST(CONCAT(tc.constraint_type, ' ', COALESCE((SELECT GROUP_CONCAT(CONCAT(k.column_name, \
     COALESCE(CONCAT('->', k.referenced_table_name, '.', k.referenced_column_name), '')) \
     ORDER BY k.ordinal_position) FROM information_schema.key_column_usage k \
     WHERE k.constraint_schema = tc.constraint_schema AND k.table_name = tc.table_name \
     AND k.constraint_name = tc.constraint_name), ''), COALESCE((SELECT CONCAT(' on update ', \
     r.update_rule, ' on delete ', r.delete_rule) FROM information_schema.referential_constraints r \
     WHERE r.constraint_schema = tc.constraint_schema AND r.table_name = tc.table_name \
     AND r.constraint_name = tc.constraint_name), ''), COALESCE((SELECT CONCAT(' check ', \
     c.check_clause) FROM information_schema.check_constraints c \
     WHERE c.constraint_schema = tc.constraint_schema AND c.table_name = tc.table_name \
     AND c.constraint_name = tc.constraint_name), '')) AS CHAR) \
     FROM information_schema.table_constraints tc WHERE tc.table_schema = DATABASE()",
    "SELECT CAST(CONCAT('view ', table_name) AS CHAR), CAST(view_definition AS CHAR) \
     FROM information_schema.views WHERE table_schema = DATABASE()",
    "SELECT CAST(CONCAT('trigger ', trigger_name) AS CHAR), CAST(CONCAT(action_timing, ' ', \
     event_manipulation, ' on ', event_object_table, ': ', action_statement) AS CHAR) \
     FROM information_schema.triggers WHERE trigger_schema = DATABASE()",
];

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn a_key_is_about_the_name_after_its_kind() {
        for (key, name) in [
            ("table blog_posts", "blog_posts"),
            ("column blog_posts.id", "blog_posts"),
            ("index on blog_posts: blog_posts_status", "blog_posts"),
            ("foreign key blog_tags.0.0", "blog_tags"),
            ("function blog_count(integer)", "blog_count"),
            ("relation Blog_Posts", "blog_posts"),
        ] {
            assert_eq!(super::subject(key), name, "{key}");
        }
    }

    #[test]
    fn layout_does_not_make_two_texts_differ() {
        assert_eq!(
            normalise("CREATE TABLE t ( id INTEGER,\n  a TEXT )", None),
            normalise("CREATE TABLE t (id INTEGER , a TEXT)", None)
        );
        assert_ne!(
            normalise("CREATE TABLE t (id INTEGER, a TEXT)", None),
            normalise("CREATE TABLE t (id INTEGER, a INTEGER)", None)
        );
    }
}
