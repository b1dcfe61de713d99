//! The SQL policy of wasmig: what one module's migration may send to the database.
//!
//! Every statement a guest sends is parsed with [`sqlparser`] in the target database's dialect
//! and checked before the database sees it. A string holding several statements is checked
//! statement by statement; anything the parser cannot read is denied (fail closed); every
//! decision carries a reason a human can read.
//!
//! The rules rest on ownership: the host records which objects (tables, views, indexes,
//! triggers) each module created. A module may read and write what it owns and what its
//! manifest was granted, alter and drop only what it owns, and create only names nobody else
//! holds. Transaction control, attaching databases, most pragmas, settings, privileges,
//! extensions, stored code, file and program access are always denied.
//!
//! The parser gives good errors; the database keeps the last word (see [`authorizer`] for
//! SQLite's second layer).

pub mod authorizer;
mod batch;
mod catalog;
mod chain;
mod functions;
mod names;
mod postgres;
mod rules;
mod script;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::sync::Arc;

pub use batch::MultiRowInsert;
use sqlparser::ast::{
    AlterTableOperation, ColumnDef, ColumnOption, Expr, ObjectName, ObjectType, Query,
    RenameTableNameKind, Statement, TableConstraint, TableObject, Visit, Visitor,
};
use sqlparser::dialect::{Dialect as SqlDialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use wasmig_db::Dialect;
pub use wasmig_db::{Denial, Rule};

use names::Name;
pub use script::{
    NO_TRANSACTION_MARKER, ScriptStatement, TOLERANT_MARKER, is_non_transactional, split_script,
};

/// What kind of schema object a name denotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectKind {
    /// A table.
    Table,
    /// A view.
    View,
    /// An index.
    Index,
    /// A trigger.
    Trigger,
    /// A type (PostgreSQL's enums and composite types).
    Type,
    /// A sequence (PostgreSQL).
    Sequence,
    /// A materialized view (PostgreSQL).
    MaterializedView,
    /// A function (PostgreSQL; created `SECURITY DEFINER` under the module's role).
    Function,
}

impl ObjectKind {
    /// The kind's name as the ledger stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Table => "table",
            ObjectKind::View => "view",
            ObjectKind::Index => "index",
            ObjectKind::Trigger => "trigger",
            ObjectKind::Type => "type",
            ObjectKind::Sequence => "sequence",
            ObjectKind::MaterializedView => "matview",
            ObjectKind::Function => "function",
        }
    }
}

/// A change of ownership a permitted statement makes once it succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// The module now owns `name`.
    Created {
        /// The new object's name, normalised.
        name: String,
        /// What it is.
        kind: ObjectKind,
    },
    /// The module's `name` is gone.
    Dropped {
        /// The dropped object's name, normalised.
        name: String,
    },
    /// The module's object `from` is now called `to`.
    Renamed {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// A session setting a step may change for itself (MySQL `FOREIGN_KEY_CHECKS`,
    /// PostgreSQL `SET LOCAL lock_timeout`, SQLite `PRAGMA foreign_keys`); the host puts it
    /// back when the step ends.
    Setting {
        /// The setting, lower-cased.
        name: String,
    },
    /// The module's object `name` changes (`ALTER TABLE`, an index or trigger on it, a
    /// comment): nothing changes hands, but a journal looks at it to tell whether a statement
    /// that was cut short took effect.
    Altered {
        /// The object's name, normalised.
        name: String,
    },
    /// An extension the operator allows, which the host creates (never the module).
    Extension {
        /// The extension's name.
        name: String,
    },
    /// An anonymous code block (PostgreSQL's `DO`), which the host runs as a `SECURITY
    /// DEFINER` function of the module's role, so that it cannot leave that role.
    Block {
        /// The block's body (PL/pgSQL).
        body: String,
    },
    /// The statement does nothing here (`DROP … IF EXISTS` of names that do not exist): the
    /// host does not send it (a server would still check the right to drop them).
    Skipped,
    /// A foreign key names `name`, a table nobody holds and that does not exist yet (created
    /// later in the history, with MySQL's `FOREIGN_KEY_CHECKS` off): nothing changes hands,
    /// but the database must let the module refer to it.
    Refers {
        /// The table's name, normalised.
        name: String,
    },
    /// The statement reads the schema catalog: `confined` runs instead, the same statement
    /// with the catalog limited to the module's own objects and its grants.
    Catalog {
        /// The statement to run.
        confined: String,
    },
}

impl Effect {
    /// True for an effect whose statement the host runs its own way (a setting, an
    /// extension the host creates, a `DO` block it wraps): such a statement must come alone.
    pub fn runs_apart(&self) -> bool {
        matches!(
            self,
            Effect::Setting { .. } | Effect::Extension { .. } | Effect::Block { .. }
        )
    }
}

/// A rule a statement broke, before [`Policy::check`] quotes the statement in a [`Denial`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    rule: Rule,
    object: Option<String>,
    reason: String,
}

impl Refusal {
    pub(crate) fn new(rule: Rule, reason: impl Into<String>) -> Self {
        Refusal {
            rule,
            object: None,
            reason: reason.into(),
        }
    }

    /// The same refusal, about `object` (a normalised name).
    pub(crate) fn about(mut self, object: impl Into<String>) -> Self {
        self.object = Some(object.into());
        self
    }

    /// The same refusal, its reason put in context (`in the trigger's body: …`).
    fn within(mut self, context: &str) -> Self {
        self.reason = format!("{context}: {}", self.reason);
        self
    }
}

/// What a module may touch beyond what it owns, from its manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Objects it may read.
    pub read: BTreeSet<String>,
    /// Objects it may read and write (not alter or drop).
    pub write: BTreeSet<String>,
}

/// Who holds the names that exist in the database when a step starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    /// Every existing object's normalised name, with the module that owns it (`None`: the host
    /// or the application, i.e. nobody a module can claim).
    pub objects: BTreeMap<String, Option<String>>,
}

/// The policy for one module's step.
#[derive(Debug, Clone)]
pub struct Policy {
    dialect: Dialect,
    module: String,
    home_schema: Option<String>,
    owned: BTreeSet<String>,
    /// Who held every name when the step started (shared between steps: never copied).
    catalog: Arc<Catalog>,
    grants: Grants,
    required_prefix: Option<String>,
    /// True when the database itself confines the module (PostgreSQL's per-module role):
    /// only then may it create code (functions, trigger functions, `DO` blocks).
    confined: bool,
    /// Extensions the operator allows a module to ask for.
    extensions: BTreeSet<String>,
    /// True for a policy that checks the rules alone, with no database to tell owners by.
    rules_only: bool,
    /// True once names nobody holds count as the module's (see
    /// [`Policy::assume_unknown_names_are_own`]).
    unknown_is_own: bool,
    checks: Checks,
}

/// Parts of the policy a test may switch off to show that the database's own layer still
/// holds. Production code never changes them.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checks {
    /// Whether reads are checked against ownership and grants.
    pub reads: bool,
}

impl Default for Checks {
    fn default() -> Self {
        Checks { reads: true }
    }
}

impl Policy {
    /// The policy for `module` on a database of `dialect` whose objects are `catalog`.
    /// `home_schema` is the schema the step works in (PostgreSQL's current schema, MySQL's
    /// database; `None` on SQLite, whose home is `main`).
    pub fn new(
        dialect: Dialect,
        module: &str,
        home_schema: Option<&str>,
        catalog: impl Into<Arc<Catalog>>,
        grants: Grants,
    ) -> Self {
        let catalog = catalog.into();
        let owned = catalog
            .objects
            .iter()
            .filter(|(_, owner)| owner.as_deref() == Some(module))
            .map(|(name, _)| name.clone())
            .collect();
        Policy {
            dialect,
            module: module.to_owned(),
            home_schema: home_schema.map(str::to_lowercase),
            owned,
            catalog,
            grants: Grants {
                read: grants.read.iter().map(|g| g.to_lowercase()).collect(),
                write: grants.write.iter().map(|g| g.to_lowercase()).collect(),
            },
            required_prefix: None,
            confined: false,
            extensions: BTreeSet::new(),
            rules_only: false,
            unknown_is_own: false,
            checks: Checks::default(),
        }
    }

    /// A policy that checks what needs no database: the statements, functions, settings and
    /// clauses always refused, and that the text parses. Every name counts as the module's
    /// (except the host's `wasmig_…`), code as confined and extensions as allowed, since only
    /// a database and its operator can tell. For `verify`, and `plan` where steps cannot run.
    pub fn rules_only(dialect: Dialect, module: &str) -> Self {
        let home = (dialect == Dialect::Postgres).then_some("public");
        let mut policy = Policy::new(dialect, module, home, Catalog::default(), Grants::default());
        policy.rules_only = true;
        policy.confined = true;
        policy
    }

    /// Tells the policy that the database confines the module's statements itself
    /// (PostgreSQL's per-module role), so that functions and `DO` blocks may run.
    pub fn set_confined(&mut self, confined: bool) {
        self.confined = confined;
    }

    /// Extensions a module may ask for (`CREATE EXTENSION IF NOT EXISTS name`); the host
    /// creates them.
    pub fn allow_extensions(mut self, names: impl IntoIterator<Item = String>) -> Self {
        self.extensions = names.into_iter().map(|n| n.to_lowercase()).collect();
        self
    }

    /// Requires every object the module creates to be named `<prefix>…`.
    pub fn require_prefix(mut self, prefix: &str) -> Self {
        self.required_prefix = Some(prefix.to_lowercase());
        self
    }

    #[doc(hidden)]
    pub fn with_checks(mut self, checks: Checks) -> Self {
        self.checks = checks;
        self
    }

    /// The objects this module owns right now.
    pub fn owned(&self) -> &BTreeSet<String> {
        &self.owned
    }

    /// Checks every statement in `sql`; on success returns the ownership changes they make.
    pub fn check(&self, sql: &str) -> Result<Vec<Effect>, Denial> {
        on_a_known_stack(|| self.check_here(sql))
    }

    /// [`Policy::check`] on the stack it is called on.
    fn check_here(&self, sql: &str) -> Result<Vec<Effect>, Denial> {
        if self.dialect == Dialect::MySql && rules::has_executable_comment(sql) {
            let reason = "executable comments (`/*! … */`, `/*M! … */`) and optimizer hints \
                 (`/*+ … */`) are read by the server while they look like comments: write the \
                 statement plainly";
            return Err(self.deny(sql, Refusal::new(Rule::Unreadable, reason)));
        }
        // Comments read otherwise by the server; dynamic SQL, for its message; then anything
        // else naming an `@`.
        let variables = rules::ambiguous_comment(self.dialect, sql)
            .or_else(|| rules::dynamic_sql(self.dialect, sql))
            .or_else(|| rules::user_variable(self.dialect, sql));
        if let Some(reason) = variables {
            return Err(self.deny(sql, reason));
        }
        let statements = match self.parse(sql) {
            Ok(statements) => statements,
            // sqlparser reads `PRAGMA x = 1` but not `PRAGMA x = ON`: a lone PRAGMA is read here.
            Err(_) if self.dialect == Dialect::Sqlite && rules::lone_pragma(sql).is_some() => {
                let name = rules::lone_pragma(sql).unwrap_or_default();
                return rules::check_pragma_name(&name)
                    .map(|()| rules::pragma_effects(&name))
                    .map_err(|reason| self.deny(sql, reason));
            }
            // sqlparser does not read PostgreSQL's `SET CONSTRAINTS`.
            Err(_) if self.dialect == Dialect::Postgres && rules::is_set_constraints(sql) => {
                return Ok(vec![Effect::Setting {
                    name: "constraints".into(),
                }]);
            }
            Err(_)
                if self.dialect == Dialect::Postgres
                    && let Some(recognised) = postgres::recognise(sql) =>
            {
                return self
                    .check_recognised(recognised)
                    .map_err(|r| self.deny(sql, r));
            }
            Err(_)
                if self.dialect == Dialect::MySql
                    && let Some((table, options)) = rules::mysql_table_options(sql) =>
            {
                return self
                    .check_table_options(&table, options)
                    .map_err(|r| self.deny(sql, r));
            }
            Err(e) => {
                let reason =
                    format!("the statement cannot be parsed ({e}); unparsable SQL is refused");
                return Err(self.deny(sql, Refusal::new(Rule::Unreadable, reason)));
            }
        };
        if statements.is_empty() {
            return Err(self.deny(sql, Refusal::new(Rule::Unreadable, "no statement")));
        }
        let mut effects = Vec::new();
        // Later statements of the same string may use what earlier ones create.
        let mut scratch = self.clone();
        for statement in &statements {
            let text = statement.to_string();
            let made = scratch
                .check_statement(statement)
                .map_err(|reason| self.deny(&text, reason))?;
            scratch.apply(&made);
            let runs_apart = made.iter().any(Effect::runs_apart);
            if runs_apart && statements.len() > 1 {
                let reason = "a setting, an extension or a DO block runs apart from other \
                     statements: send it as a statement of its own";
                return Err(self.deny(&text, Refusal::new(Rule::Statement, reason)));
            }
            effects.extend(made);
        }
        if let Some(confined) = self.confine_catalog(&statements, sql)? {
            effects.push(Effect::Catalog { confined });
        }
        Ok(effects)
    }

    /// The text to run instead of `sql` when it reads the schema catalog: the catalog limited
    /// to the module's own objects and its grants (see `catalog`).
    fn confine_catalog(
        &self,
        statements: &[Statement],
        sql: &str,
    ) -> Result<Option<String>, Denial> {
        // Most statements read no catalog: nothing to build or copy for them.
        let reading: Vec<&Statement> = statements
            .iter()
            .filter(|statement| catalog::reads_catalog(self.dialect, statement))
            .collect();
        if reading.is_empty() {
            return Ok(None);
        }
        let visible: BTreeSet<String> = self
            .owned
            .iter()
            .chain(&self.grants.read)
            .chain(&self.grants.write)
            .filter(|name| !name.starts_with(rules::HOST_PREFIX))
            .cloned()
            .collect();
        let mut confined = Vec::new();
        for statement in reading {
            for (pragma, target) in catalog::pragma_targets(statement) {
                let shown = target.as_ref().is_some_and(|name| visible.contains(name));
                if !shown {
                    let reason = format!(
                        "{pragma}(…) may describe only the module's own tables and those it was \
                         granted, named as a string"
                    );
                    let refusal = Refusal::new(Rule::Catalog, reason);
                    return Err(self.deny(sql, refusal.about(target.unwrap_or_default())));
                }
            }
            let text = catalog::confine(self.dialect, statement, &visible)
                .map_err(|reason| self.deny(sql, reason))?;
            confined.extend(text);
        }
        match (confined.pop(), statements.len()) {
            (None, _) => Ok(None),
            (Some(text), 1) => Ok(Some(text)),
            (Some(_), _) => Err(self.deny(
                sql,
                Refusal::new(
                    Rule::Catalog,
                    "a query of the schema catalog runs apart from other statements: send it \
                     as a statement of its own",
                ),
            )),
        }
    }

    /// Records the effects of statements that succeeded.
    pub fn apply(&mut self, effects: &[Effect]) {
        for effect in effects {
            match effect {
                Effect::Created { name, .. } => {
                    self.owned.insert(name.clone());
                }
                Effect::Dropped { name } => {
                    self.owned.remove(name);
                }
                Effect::Renamed { from, to } => {
                    self.owned.remove(from);
                    self.owned.insert(to.clone());
                }
                Effect::Altered { .. }
                | Effect::Setting { .. }
                | Effect::Extension { .. }
                | Effect::Block { .. }
                | Effect::Refers { .. }
                | Effect::Skipped
                | Effect::Catalog { .. } => {}
            }
        }
    }

    fn sql_dialect(&self) -> Box<dyn SqlDialect> {
        sql_dialect(self.dialect)
    }

    /// The dialect this policy reads statements in.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// True when `sql` is one query that only reads: a `SELECT`, `VALUES` or `WITH … SELECT`
    /// with no data-changing part and no `INTO` (what a cursor may run). The database checks
    /// again where it can (SQLite's read-only statement, PostgreSQL's `DECLARE`).
    pub fn reads_only(&self, sql: &str) -> bool {
        on_a_known_stack(|| self.reads_only_here(sql))
    }

    /// [`Policy::reads_only`] on the stack it is called on.
    fn reads_only_here(&self, sql: &str) -> bool {
        let Ok(statements) = self.parse(sql) else {
            return false;
        };
        let [statement @ Statement::Query(query)] = statements.as_slice() else {
            return false;
        };
        names::nested_changes(query).is_empty() && !selects_into(statement)
    }

    /// Parses `sql` in the database's dialect. SQLite's `a IS b` / `a IS NOT b` between any two
    /// expressions, which sqlparser reads only before NULL, TRUE, FALSE and DISTINCT, is read
    /// as the standard `IS [NOT] DISTINCT FROM` it means: the names a statement touches are
    /// the same either way, and the database still runs the text as written.
    fn parse(&self, sql: &str) -> Result<Vec<Statement>, sqlparser::parser::ParserError> {
        let dialect = self.sql_dialect();
        let parsed = chain::parse_sql(dialect.as_ref(), sql);
        if parsed.is_ok() || self.dialect != Dialect::Sqlite {
            return parsed;
        }
        match script::standard_is(dialect.as_ref(), sql) {
            Some(standard) => chain::parse_sql(dialect.as_ref(), &standard).or(parsed),
            None => parsed,
        }
    }

    fn deny(&self, statement: &str, refusal: Refusal) -> Denial {
        Denial::new(refusal.rule, statement, refusal.reason).about(refusal.object)
    }

    /// `ALTER TABLE table <options>`: the table must be the module's, the options ones a
    /// step may set.
    fn check_table_options(
        &self,
        table: &[String],
        options: Result<(), Refusal>,
    ) -> Result<Vec<Effect>, Refusal> {
        let name = ObjectName::from(
            table
                .iter()
                .map(|part| sqlparser::ast::Ident::new(part.as_str()))
                .collect::<Vec<_>>(),
        );
        let name = self.name(&name)?;
        if !self.holds(&name.key()) {
            return Err(self.not_owned(&name, "alter"));
        }
        options.map(|()| vec![Effect::Altered { name: name.key() }])
    }

    /// The rules for one parsed statement.
    fn check_statement(&self, statement: &Statement) -> Result<Vec<Effect>, Refusal> {
        let mut access = Access::default();
        let mut effects = Vec::new();
        match statement {
            Statement::Query(_)
            | Statement::Insert(_)
            | Statement::Update(_)
            | Statement::Delete(_)
            | Statement::Truncate(_) => self.check_writes(statement, &mut access)?,
            Statement::CreateTable(create) => {
                effects = self.check_create_table(create, &mut access)?
            }
            Statement::CreateView(view) => {
                if view.temporary {
                    return Err(Refusal::new(
                        Rule::Statement,
                        "temporary views are not allowed",
                    ));
                }
                let name = self.name(&view.name)?;
                let kind = match view.materialized {
                    true => ObjectKind::MaterializedView,
                    false => ObjectKind::View,
                };
                effects.push(self.create(&name, kind)?);
                access.created.push(view.name.clone());
            }
            Statement::CreateIndex(index) => {
                let Some(index_name) = &index.name else {
                    return Err(Refusal::new(
                        Rule::Name,
                        "an index must be named, so that its owner is known",
                    ));
                };
                let name = self.name(index_name)?;
                effects.push(self.create(&name, ObjectKind::Index)?);
                access.created.push(index_name.clone());
                access.own.push(index.table_name.clone());
            }
            Statement::CreateTrigger(trigger) => {
                effects = self.check_create_trigger(trigger, &mut access)?
            }
            Statement::AlterTable(alter) => effects = self.check_alter_table(alter, &mut access)?,
            Statement::RenameTable(renames) => {
                for rename in renames {
                    access.own.push(rename.old_name.clone());
                    let to = self.name(&rename.new_name)?;
                    self.create(&to, ObjectKind::Table)?;
                    effects.push(Effect::Renamed {
                        from: self.name(&rename.old_name)?.key(),
                        to: to.key(),
                    });
                }
            }
            Statement::Drop { .. } => effects = self.check_drop(statement, &mut access)?,
            Statement::DropTrigger(drop) => {
                let key = self.name(&drop.trigger_name)?.key();
                if drop.if_exists && self.unknown(&key) {
                    access.absent.push(drop.trigger_name.clone());
                    effects.push(Effect::Skipped);
                } else {
                    access.own.push(drop.trigger_name.clone());
                    effects.push(Effect::Dropped { name: key });
                    access.own.extend(drop.table_name.iter().cloned());
                }
            }
            Statement::Pragma { name, value, .. } => {
                rules::check_pragma(self.dialect, name, value.as_ref())?;
                let parts: Vec<String> = name.0.iter().map(|part| part.to_string()).collect();
                return Ok(rules::pragma_effects(&parts));
            }
            Statement::Set(set) => return rules::check_setting(self.dialect, set),
            other => effects = self.check_object_statement(other, &mut access)?,
        }
        self.check_access(statement, &access, effects)
    }

    /// `CREATE TABLE`: a name nobody holds, plain options, foreign keys to readable tables.
    fn check_create_table(
        &self,
        create: &sqlparser::ast::CreateTable,
        access: &mut Access,
    ) -> Result<Vec<Effect>, Refusal> {
        let mut effects = Vec::new();
        if create.temporary {
            return Err(Refusal::new(
                Rule::Statement,
                "temporary tables are not allowed: they outlive the step on a pooled connection",
            ));
        }
        if create.inherits.is_some() || create.partition_of.is_some() {
            return Err(Refusal::new(
                Rule::Statement,
                "INHERITS and PARTITION OF make the new table part of another one (its \
                 rows show up there): create a table of its own",
            ));
        }
        if create.like.is_some() || create.clone.is_some() {
            return Err(Refusal::new(
                Rule::Statement,
                "CREATE TABLE … LIKE/CLONE is not allowed; spell out the columns",
            ));
        }
        if self.dialect == Dialect::MySql {
            rules::check_create_table_options(create_table_options(&create.table_options))?;
        }
        let name = self.name(&create.name)?;
        effects.push(self.create(&name, ObjectKind::Table)?);
        access.created.push(create.name.clone());
        access
            .read
            .extend(foreign_keys(&create.columns, &create.constraints));
        Ok(effects)
    }

    /// `CREATE TRIGGER`: on an owned table, with a body a step could send itself.
    fn check_create_trigger(
        &self,
        trigger: &sqlparser::ast::CreateTrigger,
        access: &mut Access,
    ) -> Result<Vec<Effect>, Refusal> {
        let mut effects = Vec::new();
        let name = self.name(&trigger.name)?;
        effects.push(self.create(&name, ObjectKind::Trigger)?);
        access.own.push(trigger.table_name.clone());
        if let Some(exec) = &trigger.exec_body {
            self.may_run_code("a trigger that executes a function")?;
            access.own.push(exec.func_desc.name.clone());
            access.created.push(trigger.name.clone());
        } else {
            let body = trigger.statements.as_ref().ok_or_else(|| {
                Refusal::new(
                    Rule::Unreadable,
                    "a trigger without a body cannot be checked",
                )
            })?;
            self.check_trigger_body(body.statements())
                .map_err(|refusal| refusal.within("in the trigger's body"))?;
        }
        Ok(effects)
    }

    /// `ALTER TABLE`: an owned table; a rename takes a name nobody holds.
    fn check_alter_table(
        &self,
        alter: &sqlparser::ast::AlterTable,
        access: &mut Access,
    ) -> Result<Vec<Effect>, Refusal> {
        let mut effects = Vec::new();
        access.own.push(alter.name.clone());
        for operation in &alter.operations {
            if operation.to_string().to_uppercase().ends_with(" CASCADE") {
                return Err(rules::refuse_cascade("ALTER TABLE … DROP"));
            }
            match operation {
                AlterTableOperation::RenameTable { table_name } => {
                    let (RenameTableNameKind::As(to) | RenameTableNameKind::To(to)) = table_name;
                    let to = self.name(to)?;
                    self.create(&to, ObjectKind::Table)?;
                    effects.push(Effect::Renamed {
                        from: self.name(&alter.name)?.key(),
                        to: to.key(),
                    });
                }
                AlterTableOperation::AddColumn { column_def, .. } => {
                    access
                        .read
                        .extend(foreign_keys(std::slice::from_ref(column_def), &[]));
                }
                AlterTableOperation::AddConstraint { constraint, .. } => {
                    access
                        .read
                        .extend(foreign_keys(&[], std::slice::from_ref(constraint)));
                }
                _ => {}
            }
        }
        Ok(effects)
    }

    /// `DROP`: only kinds of object a step makes, only what it owns; `IF EXISTS` of a
    /// name nobody holds does nothing.
    fn check_drop(
        &self,
        statement: &Statement,
        access: &mut Access,
    ) -> Result<Vec<Effect>, Refusal> {
        let Statement::Drop {
            object_type,
            if_exists,
            cascade,
            names: dropped,
            table,
            temporary,
            ..
        } = statement
        else {
            return Err(rules::not_allowed(statement));
        };
        let mut effects = Vec::new();
        if *temporary {
            return Err(Refusal::new(
                Rule::Statement,
                "temporary objects are not allowed",
            ));
        }
        if !matches!(
            object_type,
            ObjectType::Table
                | ObjectType::View
                | ObjectType::Index
                | ObjectType::MaterializedView
                | ObjectType::Sequence
                | ObjectType::Type
        ) {
            return Err(Refusal::new(
                Rule::Statement,
                format!("DROP {object_type} is not allowed in a migration"),
            ));
        }
        for name in dropped {
            // `IF EXISTS` of a name nobody holds and that does not exist: a no-op.
            if *if_exists && self.unknown(&self.name(name)?.key()) {
                access.absent.push(name.clone());
                continue;
            }
            access.own.push(name.clone());
            effects.push(Effect::Dropped {
                name: self.name(name)?.key(),
            });
        }
        if !effects.is_empty() {
            if *cascade {
                return Err(rules::refuse_cascade("DROP"));
            }
            access.own.extend(table.iter().cloned());
        } else {
            effects.push(Effect::Skipped);
        }
        Ok(effects)
    }

    /// The tables a query or a DML statement writes (and a query's nested changes).
    fn check_writes(&self, statement: &Statement, access: &mut Access) -> Result<(), Refusal> {
        match statement {
            Statement::Query(query) => {
                // `WITH d AS (UPDATE … RETURNING *) SELECT …` and `WITH c AS (…) INSERT …`
                // write: a nested row change adds its targets to the statement's writes,
                // checked with the whole statement (where the CTEs it reads are in scope);
                // any other nested change is checked as the statement it is.
                for nested in names::nested_changes(query) {
                    match nested {
                        Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => {
                            self.check_writes(&nested, access)?
                        }
                        other => {
                            self.check_statement(&other)?;
                        }
                    }
                }
            }
            Statement::Insert(insert) => match &insert.table {
                TableObject::TableName(name) => access.write.push(name.clone()),
                _ => {
                    return Err(Refusal::new(
                        Rule::Statement,
                        "INSERT into a table function is not allowed",
                    ));
                }
            },
            Statement::Update(update) => {
                access.write.extend(names::update_targets(update)?);
            }
            Statement::Delete(delete) => {
                if !delete.tables.is_empty() {
                    access.write.extend(delete.tables.iter().cloned());
                } else {
                    for table in names::from_tables(&delete.from) {
                        access.write.push(names::table_of(&table.relation)?);
                    }
                }
            }
            Statement::Truncate(truncate) => {
                if truncate.cascade == Some(sqlparser::ast::CascadeOption::Cascade) {
                    return Err(rules::refuse_cascade("TRUNCATE"));
                }
                access
                    .own
                    .extend(truncate.table_names.iter().map(|t| t.name.clone()));
            }
            _ => {}
        }
        Ok(())
    }

    /// What every statement must respect beyond its kind: no `SELECT … INTO`, allowed
    /// functions, reachable relations; and the effects of what it alters and refers to.
    fn check_access(
        &self,
        statement: &Statement,
        access: &Access,
        mut effects: Vec<Effect>,
    ) -> Result<Vec<Effect>, Refusal> {
        if selects_into(statement) {
            return Err(Refusal::new(
                Rule::Statement,
                "SELECT … INTO is not allowed (it creates tables or writes files); use CREATE TABLE and INSERT",
            ));
        }
        self.check_functions(statement)?;
        self.check_relations(statement, access)?;
        for name in &access.own {
            let name = self.name(name)?.key();
            let mentioned = effects.iter().any(|effect| {
                matches!(effect, Effect::Created { name: n, .. } | Effect::Dropped { name: n }
                    | Effect::Renamed { from: n, .. } if *n == name)
            });
            if !mentioned {
                effects.push(Effect::Altered { name });
            }
        }
        // A foreign key to a table nobody holds yet (created later in the history).
        for target in &access.read {
            let name = self.name(target)?.key();
            let created = effects
                .iter()
                .any(|e| matches!(e, Effect::Created { name: n, .. } if *n == name));
            if self.unknown(&name) && !created {
                effects.push(Effect::Refers { name });
            }
        }
        Ok(effects)
    }

    /// The names a statement's effects touch, for a journal's fingerprint of them.
    pub fn touched(effects: &[Effect]) -> Vec<String> {
        let mut names = Vec::new();
        for effect in effects {
            match effect {
                Effect::Created { name, .. }
                | Effect::Dropped { name }
                | Effect::Altered { name } => names.push(name.clone()),
                Effect::Renamed { from, to } => names.extend([from.clone(), to.clone()]),
                _ => {}
            }
        }
        names.sort();
        names.dedup();
        names
    }

    /// Statements about the kinds of object beyond tables (PostgreSQL's types, sequences,
    /// functions, extensions, comments); any other statement is refused.
    fn check_object_statement(
        &self,
        statement: &Statement,
        access: &mut Access,
    ) -> Result<Vec<Effect>, Refusal> {
        let mut effects = Vec::new();
        match statement {
            Statement::CreateType { name, .. } => {
                effects.push(self.create(&self.name(name)?, ObjectKind::Type)?);
                access.created.push(name.clone());
            }
            Statement::AlterType(alter) => {
                access.own.push(alter.name.clone());
                if let sqlparser::ast::AlterTypeOperation::Rename(rename) = &alter.operation {
                    let to = self.name(&ObjectName::from(vec![rename.new_name.clone()]))?;
                    self.create(&to, ObjectKind::Type)?;
                    effects.push(Effect::Renamed {
                        from: self.name(&alter.name)?.key(),
                        to: to.key(),
                    });
                }
            }
            Statement::CreateSequence {
                temporary,
                name,
                owned_by,
                ..
            } => {
                if *temporary {
                    return Err(Refusal::new(
                        Rule::Statement,
                        "temporary sequences are not allowed",
                    ));
                }
                effects.push(self.create(&self.name(name)?, ObjectKind::Sequence)?);
                access.created.push(name.clone());
                access.own.extend(owned_by.iter().map(names::without_last));
            }
            Statement::CreateFunction(function) => {
                effects.push(self.check_function(function)?);
                access.created.push(function.name.clone());
            }
            Statement::DropFunction(drop) => {
                for function in &drop.func_desc {
                    let key = self.name(&function.name)?.key();
                    if drop.if_exists && self.unknown(&key) {
                        continue;
                    }
                    access.own.push(function.name.clone());
                    effects.push(Effect::Dropped { name: key });
                }
                let cascade = drop.drop_behavior == Some(sqlparser::ast::DropBehavior::Cascade);
                if cascade && !effects.is_empty() {
                    return Err(rules::refuse_cascade("DROP FUNCTION"));
                }
            }
            Statement::Comment {
                object_type,
                object_name,
                ..
            } => access.own.push(comment_target(*object_type, object_name)?),
            Statement::CreateExtension(extension) => {
                effects.push(self.check_extension(extension)?);
            }
            other => return Err(rules::not_allowed(other)),
        }
        Ok(effects)
    }

    /// A function a module may create: PL/pgSQL or SQL, on a database that confines it.
    fn check_function(&self, function: &sqlparser::ast::CreateFunction) -> Result<Effect, Refusal> {
        self.may_run_code("a function")?;
        if function.temporary {
            return Err(Refusal::new(
                Rule::Statement,
                "temporary functions are not allowed",
            ));
        }
        let language = function
            .language
            .as_ref()
            .map(|l| l.value.to_lowercase())
            .unwrap_or_else(|| "sql".to_owned());
        if !matches!(language.as_str(), "plpgsql" | "sql") {
            return Err(Refusal::new(
                Rule::Code,
                format!(
                    "functions in LANGUAGE {language} are not allowed; a step may write plpgsql or sql"
                ),
            ));
        }
        let name = self.name(&function.name)?;
        // Replacing its own function is fine; the name must not be someone else's.
        if self.owned.contains(&name.key()) {
            return Ok(Effect::Created {
                name: name.key(),
                kind: ObjectKind::Function,
            });
        }
        self.create(&name, ObjectKind::Function)
    }

    /// `CREATE EXTENSION`: only an extension the operator allows, and only `IF NOT EXISTS`
    /// in the database's own schemas, so that the host can create it.
    fn check_extension(
        &self,
        extension: &sqlparser::ast::CreateExtension,
    ) -> Result<Effect, Refusal> {
        let name = extension.name.value.to_lowercase();
        if !self.rules_only && !self.extensions.contains(&name) {
            let allowed = if self.extensions.is_empty() {
                "none is allowed on this host".to_owned()
            } else {
                format!(
                    "this host allows {}",
                    self.extensions
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(Refusal::new(
                Rule::Extension,
                format!(
                    "CREATE EXTENSION {name}: extensions load code into the database server; {allowed} \
                 (an operator allows one with `--allow-extension {name}`)"
                ),
            ));
        }
        if extension.schema.is_some() || extension.version.is_some() || extension.cascade {
            return Err(Refusal::new(
                Rule::Extension,
                format!(
                    "CREATE EXTENSION {name}: the host creates it as is (no SCHEMA, VERSION or CASCADE)"
                ),
            ));
        }
        Ok(Effect::Extension { name })
    }

    /// Code the database runs later (functions, triggers executing them, `DO` blocks) is
    /// allowed only where the database confines it to the module's role.
    fn may_run_code(&self, what: &str) -> Result<(), Refusal> {
        if self.confined {
            return Ok(());
        }
        Err(Refusal::new(
            Rule::Code,
            match self.dialect {
                Dialect::Postgres => format!(
                    "{what} runs code the policy cannot read; it is allowed only where the database \
                 confines it to the module's own role, and wasmig's account here may not create \
                 roles (grant it CREATEROLE)"
                ),
                _ => format!("{what} runs code the policy cannot read"),
            },
        ))
    }

    /// The rules for a PostgreSQL statement sqlparser does not read (see `postgres`).
    fn check_recognised(&self, recognised: postgres::Recognised) -> Result<Vec<Effect>, Refusal> {
        use postgres::Recognised;
        let own = |parts: &[String]| -> Result<Effect, Refusal> {
            let name = self.name(&names::from_parts(parts))?;
            if self.holds(&name.key()) {
                Ok(Effect::Altered { name: name.key() })
            } else {
                Err(self.not_owned(&name, "alter, drop, truncate or index"))
            }
        };
        match recognised {
            Recognised::Do { language, body } => {
                self.may_run_code("a DO block")?;
                if language != "plpgsql" {
                    return Err(Refusal::new(
                        Rule::Code,
                        format!(
                            "DO blocks in LANGUAGE {language} are not allowed; a step may write plpgsql"
                        ),
                    ));
                }
                Ok(vec![Effect::Block { body }])
            }
            Recognised::Refresh { view } => Ok(vec![own(&view)?]),
            Recognised::AlterSequence { sequence, owned_by } => {
                let mut effects = vec![own(&sequence)?];
                effects.extend(owned_by.as_deref().map(own).transpose()?);
                Ok(effects)
            }
            Recognised::CreateSequence { sequence, owned_by } => {
                let mut effects: Vec<Effect> = owned_by
                    .as_deref()
                    .map(own)
                    .transpose()?
                    .into_iter()
                    .collect();
                let name = self.name(&names::from_parts(&sequence))?;
                effects.push(self.create(&name, ObjectKind::Sequence)?);
                Ok(effects)
            }
            Recognised::WithoutData(text) => {
                let statements =
                    chain::parse_sql(self.sql_dialect().as_ref(), &text).map_err(|e| {
                        let reason = format!("the statement cannot be parsed ({e})");
                        Refusal::new(Rule::Unreadable, reason)
                    })?;
                match statements.as_slice() {
                    [statement @ Statement::CreateView(_)] => self.check_statement(statement),
                    _ => Err(Refusal::new(
                        Rule::Unreadable,
                        "the statement cannot be parsed",
                    )),
                }
            }
        }
    }

    /// The statements of a trigger's body: what a step may run, plus the flow a trigger
    /// needs (`IF … THEN … END IF`, MySQL's `SET NEW.column = …`). It creates nothing.
    fn check_trigger_body(&self, statements: &[Statement]) -> Result<(), Refusal> {
        for statement in statements {
            match statement {
                Statement::If(branches) => {
                    let blocks = std::iter::once(&branches.if_block)
                        .chain(&branches.elseif_blocks)
                        .chain(&branches.else_block);
                    for block in blocks {
                        self.check_trigger_body(block.statements())?;
                    }
                }
                Statement::Set(sqlparser::ast::Set::SingleAssignment {
                    scope: None,
                    hivevar: false,
                    variable,
                    ..
                }) if rules::is_new_row_column(variable) => {}
                other => {
                    let effects = self.check_statement(other)?;
                    if !effects.is_empty() {
                        return Err(Refusal::new(
                            Rule::Statement,
                            "a trigger may not create, drop or rename objects",
                        ));
                    }
                    continue;
                }
            }
            // Conditions and assigned values: the functions they call and what they read.
            self.check_functions(statement)?;
            self.check_relations(statement, &Access::default())?;
        }
        Ok(())
    }

    fn check_functions(&self, statement: &Statement) -> Result<(), Refusal> {
        let prefixes = match self.dialect {
            Dialect::MySql => functions::index_prefixes(statement),
            _ => Vec::new(),
        };
        let flow = sqlparser::ast::visit_expressions(statement, |expr| {
            if prefixes.iter().any(|prefix| std::ptr::eq(*prefix, expr)) {
                return ControlFlow::Continue(());
            }
            if let Expr::Function(function) = expr {
                // Unquoted: `` `LOAD_FILE` `` and `"pg_read_file"` are the functions they name.
                let parts = rules::lowered_parts(&function.name);
                if let Some(reason) = self.function_refusal(&parts) {
                    return ControlFlow::Break(reason);
                }
                let name = parts.join(".");
                if let Some(reason) = self.sequence_function(&name, function) {
                    return ControlFlow::Break(reason);
                }
            }
            ControlFlow::Continue(())
        });
        match flow {
            ControlFlow::Break(reason) => Err(reason),
            ControlFlow::Continue(()) => Ok(()),
        }
    }

    /// Why the module may not call the function named `parts` (lower case, unquoted): a
    /// built-in only from the dialect's allow-list (qualified at most by `pg_catalog` or the
    /// home schema), or on PostgreSQL one of the module's own functions.
    fn function_refusal(&self, parts: &[String]) -> Option<Refusal> {
        let (schema, name) = match parts {
            [name] => (None, name),
            [schema, name] => (Some(schema.as_str()), name),
            _ => return Some(functions::refusal(&parts.join("."))),
        };
        let builtin_schema = schema.is_none_or(|s| s == "pg_catalog");
        if builtin_schema && functions::is_allowed(self.dialect, name) {
            return None;
        }
        let home = schema.is_none_or(|s| Some(s) == self.home_schema.as_deref());
        if self.dialect == Dialect::Postgres && home && self.holds(name) {
            return None;
        }
        Some(functions::refusal(&parts.join(".")))
    }

    /// PostgreSQL's sequence functions change or read a sequence named by a string: only the
    /// module's own (`nextval('x_seq')`), never by an expression the policy cannot read.
    fn sequence_function(
        &self,
        name: &str,
        function: &sqlparser::ast::Function,
    ) -> Option<Refusal> {
        let function_name = name.rsplit('.').next().unwrap_or(name);
        if self.dialect != Dialect::Postgres
            || !matches!(function_name, "nextval" | "setval" | "currval")
        {
            return None;
        }
        let argument = rules::first_string_argument(function);
        let Some(sequence) = argument else {
            let reason = format!(
                "{function_name}(…) takes the sequence by its name written as a string here, so \
                 that the policy can tell whose it is"
            );
            return Some(Refusal::new(Rule::Function, reason));
        };
        let key = sequence
            .rsplit('.')
            .next()
            .unwrap_or(&sequence)
            .trim_matches('"')
            .to_lowercase();
        (!self.holds(&key) && !self.unknown(&key)).then(|| {
            let reason = format!("{function_name}('{sequence}'): the sequence is not the module's");
            Refusal::new(Rule::Access, reason).about(key)
        })
    }

    /// Every relation the statement names: created names must be creatable, write targets
    /// writable, altered ones owned, every other one readable.
    fn check_relations(&self, statement: &Statement, access: &Access) -> Result<(), Refusal> {
        let ctes = cte_names(statement);
        for cte in &ctes {
            if self.owned.contains(cte) || self.is_foreign(cte) {
                let reason = format!(
                    "the common table expression `{cte}` has the name of an existing object; \
                     rename it"
                );
                return Err(Refusal::new(Rule::Name, reason).about(cte));
            }
        }
        for name in &access.own {
            let name = self.name(name)?;
            if !self.holds(&name.key()) {
                return Err(self.not_owned(&name, "alter, drop, truncate or index"));
            }
        }
        let mut exempt: BTreeSet<String> = BTreeSet::new();
        for name in &access.write {
            let name = self.name(name)?;
            let key = name.key();
            if !self.writable(&key) {
                return Err(self.not_owned(&name, "write to"));
            }
            exempt.insert(key);
        }
        for name in access
            .own
            .iter()
            .chain(&access.created)
            .chain(&access.absent)
        {
            exempt.insert(self.name(name)?.key());
        }
        let calls = table_functions(statement);
        let mut reads: Vec<ObjectName> = access.read.clone();
        reads.extend(relations_outside_ctes(statement));
        for relation in &reads {
            if self.dialect == Dialect::MySql && names::is_dual(relation) {
                continue;
            }
            if calls.contains(relation) && !rules::is_catalog(self.dialect, relation) {
                rules::check_table_function(self.dialect, relation)?;
                continue;
            }
            // A foreign key may name a table that nobody holds and that does not exist yet
            // (created later, with MySQL's FOREIGN_KEY_CHECKS off).
            if access.read.contains(relation) && self.unknown(&self.name(relation)?.key()) {
                continue;
            }
            if rules::is_catalog(self.dialect, relation) {
                continue;
            }
            let name = self.name(relation)?;
            let key = name.key();
            if exempt.contains(&key) || !self.checks.reads {
                continue;
            }
            if !self.readable(&key) {
                return Err(self.not_owned(&name, "read"));
            }
        }
        Ok(())
    }

    /// True when the module may read `key` (a normalised name).
    pub fn readable(&self, key: &str) -> bool {
        self.holds(key)
            || (!key.starts_with(rules::HOST_PREFIX)
                && (self.grants.read.contains(key) || self.grants.write.contains(key)))
    }

    /// True when the module may write rows of `key`.
    pub fn writable(&self, key: &str) -> bool {
        self.holds(key) || (!key.starts_with(rules::HOST_PREFIX) && self.grants.write.contains(key))
    }

    /// True when the module owns `key` (or, checking the rules alone, when it could; or,
    /// after steps whose effects are unknown, when nobody else holds it).
    fn holds(&self, key: &str) -> bool {
        !key.starts_with(rules::HOST_PREFIX)
            && (self.rules_only
                || self.owned.contains(key)
                || (self.unknown_is_own && !self.is_foreign(key)))
    }

    /// From now on, a name nobody holds counts as the module's: a step ran whose effects are
    /// not known (a component a plan cannot run), and it may have created it. Names others
    /// hold stay theirs.
    pub fn assume_unknown_names_are_own(&mut self) {
        self.unknown_is_own = true;
    }

    /// True when the module owns `key`.
    pub fn owns(&self, key: &str) -> bool {
        self.owned.contains(key)
    }

    /// True when no object of that name existed when the step started or was created since
    /// (what SQLite reports as a table may be a common table expression).
    pub fn unknown(&self, key: &str) -> bool {
        !key.starts_with(rules::HOST_PREFIX) && !self.owned.contains(key) && !self.is_foreign(key)
    }

    /// True when the module may create an object named `key`.
    pub fn creatable(&self, key: &str) -> bool {
        !key.starts_with(rules::HOST_PREFIX)
            && !self.is_foreign(key)
            && self
                .required_prefix
                .as_deref()
                .is_none_or(|prefix| key.starts_with(prefix))
    }

    /// True when someone other than this module held `key` when the step started.
    fn is_foreign(&self, key: &str) -> bool {
        self.catalog
            .objects
            .get(key)
            .is_some_and(|owner| owner.as_deref() != Some(self.module.as_str()))
    }

    /// Who other than this module held `key` when the step started, as a phrase.
    fn foreign_holder(&self, key: &str) -> Option<String> {
        match self.catalog.objects.get(key)? {
            Some(owner) if *owner == self.module => None,
            Some(owner) => Some(format!("module `{owner}`")),
            None => Some("the host".to_owned()),
        }
    }

    fn not_owned(&self, name: &Name, what: &str) -> Refusal {
        let key = name.key();
        let holder = if key.starts_with(rules::HOST_PREFIX) {
            "it belongs to the host".to_owned()
        } else {
            match self.foreign_holder(&key) {
                Some(owner) => format!("it belongs to {owner}"),
                None => "module `".to_owned() + &self.module + "` does not own it",
            }
        };
        let grant = if what == "read" || what == "write to" {
            " and module.toml grants no access to it"
        } else {
            ""
        };
        let reason = format!("may not {what} `{}`: {holder}{grant}", name.display());
        Refusal::new(Rule::Access, reason).about(key)
    }

    /// Checks that `name` may be created, and returns the effect.
    fn create(&self, name: &Name, kind: ObjectKind) -> Result<Effect, Refusal> {
        let key = name.key();
        let (shown, module) = (name.display(), &self.module);
        let taken = if key.starts_with(rules::HOST_PREFIX) {
            let prefix = rules::HOST_PREFIX;
            Some(format!(
                "may not create `{shown}`: names starting with `{prefix}` are the host's"
            ))
        } else if let Some(owner) = self.foreign_holder(&key) {
            Some(format!(
                "may not create `{shown}`: the name belongs to {owner}"
            ))
        } else {
            self.required_prefix
                .as_deref()
                .filter(|prefix| !key.starts_with(prefix))
                .map(|prefix| {
                    format!(
                        "may not create `{shown}`: this host requires module `{module}` to name \
                         its objects `{prefix}…`"
                    )
                })
        };
        match taken {
            Some(reason) => Err(Refusal::new(Rule::Name, reason).about(key)),
            None => Ok(Effect::Created { name: key, kind }),
        }
    }

    fn name(&self, name: &ObjectName) -> Result<Name, Refusal> {
        Name::resolve(name, self.dialect, self.home_schema.as_deref())
    }
}

/// The relations a statement touches beyond reads.
#[derive(Default)]
struct Access {
    /// Targets of INSERT, UPDATE, DELETE.
    write: Vec<ObjectName>,
    /// Targets that must be owned (ALTER, DROP, TRUNCATE, CREATE INDEX/TRIGGER ON).
    own: Vec<ObjectName>,
    /// Names being created (not reads, though the visitor sees them).
    created: Vec<ObjectName>,
    /// Reads the relation visitor does not see (foreign-key targets).
    read: Vec<ObjectName>,
    /// Names a `DROP … IF EXISTS` names that do not exist (nothing is dropped).
    absent: Vec<ObjectName>,
}

/// The object a `COMMENT ON` changes (the table of a column), which must be the module's.
fn comment_target(
    object_type: sqlparser::ast::CommentObject,
    object_name: &ObjectName,
) -> Result<ObjectName, Refusal> {
    use sqlparser::ast::CommentObject;
    match object_type {
        CommentObject::Column => Ok(names::without_last(object_name)),
        CommentObject::Table
        | CommentObject::View
        | CommentObject::MaterializedView
        | CommentObject::Index
        | CommentObject::Sequence
        | CommentObject::Type
        | CommentObject::Function => Ok(object_name.clone()),
        other => Err(Refusal::new(
            Rule::Statement,
            format!("COMMENT ON {other} is not allowed"),
        )),
    }
}

/// Tables named by `REFERENCES` in column definitions and table constraints.
fn foreign_keys(columns: &[ColumnDef], constraints: &[TableConstraint]) -> Vec<ObjectName> {
    let from_columns = columns.iter().flat_map(|column| {
        column
            .options
            .iter()
            .filter_map(|option| match &option.option {
                ColumnOption::ForeignKey(fk) => Some(fk.foreign_table.clone()),
                _ => None,
            })
    });
    let from_constraints = constraints
        .iter()
        .filter_map(|constraint| match constraint {
            TableConstraint::ForeignKey(fk) => Some(fk.foreign_table.clone()),
            _ => None,
        });
    from_columns.chain(from_constraints).collect()
}

/// The names in `FROM` that are set-returning function calls (`generate_series(1, 10)`), not
/// relations.
fn table_functions(statement: &Statement) -> Vec<ObjectName> {
    struct Calls(Vec<ObjectName>);
    impl Visitor for Calls {
        type Break = ();
        fn pre_visit_table_factor(
            &mut self,
            factor: &sqlparser::ast::TableFactor,
        ) -> ControlFlow<()> {
            if let sqlparser::ast::TableFactor::Table {
                name,
                args: Some(_),
                ..
            } = factor
            {
                self.0.push(name.clone());
            }
            ControlFlow::Continue(())
        }
    }
    let mut calls = Calls(Vec::new());
    let _ = statement.visit(&mut calls);
    calls.0
}

/// The options of a `CREATE TABLE`, whatever syntax introduced them.
fn create_table_options(
    options: &sqlparser::ast::CreateTableOptions,
) -> &[sqlparser::ast::SqlOption] {
    use sqlparser::ast::CreateTableOptions;
    match options {
        CreateTableOptions::None => &[],
        CreateTableOptions::With(options)
        | CreateTableOptions::Options(options)
        | CreateTableOptions::Plain(options)
        | CreateTableOptions::TableProperties(options) => options,
    }
}

/// The names of every common table expression in the statement, lower-cased.
fn cte_names(statement: &Statement) -> BTreeSet<String> {
    struct Ctes(BTreeSet<String>);
    impl Visitor for Ctes {
        type Break = ();
        fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
            if let Some(with) = &query.with {
                for cte in &with.cte_tables {
                    self.0.insert(cte.alias.name.value.to_lowercase());
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut ctes = Ctes(BTreeSet::new());
    let _ = statement.visit(&mut ctes);
    ctes.0
}

/// Every relation the statement names, but the references to a common table expression in
/// scope where they stand: a CTE's name counts only inside the query that defines it, so a
/// `WITH pg_class AS (…)` in a subquery does not hide the real `pg_class` read elsewhere.
fn relations_outside_ctes(statement: &Statement) -> Vec<ObjectName> {
    struct Scoped {
        scopes: Vec<BTreeSet<String>>,
        relations: Vec<ObjectName>,
    }
    impl Visitor for Scoped {
        type Break = ();
        fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
            let names = query.with.iter().flat_map(|with| &with.cte_tables);
            self.scopes.push(
                names
                    .map(|cte| cte.alias.name.value.to_lowercase())
                    .collect(),
            );
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.scopes.pop();
            ControlFlow::Continue(())
        }
        fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
            let name = names::last_part(relation);
            let cte = relation.0.len() == 1 && self.scopes.iter().any(|s| s.contains(&name));
            if !cte {
                self.relations.push(relation.clone());
            }
            ControlFlow::Continue(())
        }
    }
    let mut scoped = Scoped {
        scopes: Vec::new(),
        relations: Vec::new(),
    };
    let _ = statement.visit(&mut scoped);
    scoped.relations
}

/// True when some SELECT in the statement has an INTO clause.
fn selects_into(statement: &Statement) -> bool {
    struct Into(bool);
    impl Visitor for Into {
        type Break = ();
        fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
            if let sqlparser::ast::SetExpr::Select(select) = query.body.as_ref() {
                self.0 |= select.into.is_some();
            }
            ControlFlow::Continue(())
        }
    }
    let mut into = Into(false);
    let _ = statement.visit(&mut into);
    into.0
}

/// sqlparser's dialect for a database.
fn sql_dialect(dialect: Dialect) -> Box<dyn SqlDialect> {
    match dialect {
        Dialect::Sqlite => Box::new(SQLiteDialect {}),
        Dialect::Postgres => Box::new(PostgreSqlDialect {}),
        Dialect::MySql => Box::new(MySqlDialect {}),
    }
}

/// Runs `f` where the thread knows how much stack is left. sqlparser's parser and visitors
/// (the `recursive` crate) move to a new stack whenever less than their red zone seems left,
/// and on a stack whose bounds the thread does not know (a wasmtime fiber, where a guest's
/// statements arrive) that is every call: an mmap, mprotect and munmap of 2 MiB per visit, 6 %
/// of a 200-step upgrade (perf). One stack of our own for a whole check instead, inside which
/// the bounds are known; on a thread with room enough, `f` runs where it is.
fn on_a_known_stack<T>(f: impl FnOnce() -> T) -> T {
    const RED_ZONE: usize = 256 * 1024;
    const STACK: usize = 4 * 1024 * 1024;
    stacker::maybe_grow(RED_ZONE, STACK, f)
}
