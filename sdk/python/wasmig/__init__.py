"""The SDK for writing wasmig migration steps in Python.

A step is a file ``migrations/NNN_slug.py`` (or ``install.py``) with a function ``up(db)``;
``wasmig build`` turns it into a WebAssembly component with componentize-py. The step talks
to the database only through the ``Db`` it is given: the host has already opened the step's
transaction and decides what the step may touch. Raising any exception rolls the step back;
its message is what the operator sees.

    import wasmig

    def up(db: wasmig.Db) -> None:
        db.execute("ALTER TABLE shop_items ADD COLUMN words INTEGER", [])
        for row in db.query_iter("SELECT id, title FROM shop_items", []):
            db.execute("UPDATE shop_items SET words = ? WHERE id = ?",
                       [len(row["title"].split()), row["id"]])
        wasmig.info("counted the words of the titles")
"""

from typing import Any, Callable, Iterator, List, Optional, Sequence, Union

from componentize_py_types import Err
from wit_world.imports import database, log as _log, types

__all__ = [
    "Context", "Db", "Error", "DatabaseError", "Row", "Rows",
    "debug", "info", "warn", "error",
]

Value = Union[None, int, float, str, bytes]
"""What a SQL value is in Python: None, int, float, str or bytes (bool counts as int)."""

# Rows asked of the host per page by ``Db.query_iter``.
_PAGE_ROWS = 500


class Error(Exception):
    """Why a step failed; raise it (or any exception) to roll the step back."""


class DatabaseError(Error):
    """The host or the database refused a statement.

    ``kind`` is ``denied``, ``database``, ``quota`` or ``invalid``; ``sql`` the statement.
    """

    def __init__(self, kind: str, message: str, sql: str):
        shown = sql if len(sql) <= 120 else sql[:120] + "…"
        super().__init__(f"{kind}: {message} (in `{shown}`)")
        self.kind, self.message, self.sql = kind, message, sql


class Context:
    """Where a step runs: the module, the step, and the versions it goes from and to."""

    def __init__(self, ctx: Any):
        self.module: str = ctx.module
        self.step: str = ctx.step
        self.from_version: Optional[str] = ctx.from_version
        self.to_version: str = ctx.to_version

    @property
    def is_fresh_install(self) -> bool:
        """True when the module was never installed in this database."""
        return self.from_version is None


class Row:
    """One row: ``row["title"]`` (names compared without case) or ``row[0]``."""

    __slots__ = ("_columns", "_values")

    def __init__(self, columns: List[str], values: List[Value]):
        self._columns, self._values = columns, values

    def __getitem__(self, key: Union[int, str]) -> Value:
        if isinstance(key, int):
            return self._values[key]
        lowered = key.lower()
        for index, name in enumerate(self._columns):
            if name.lower() == lowered:
                return self._values[index]
        raise KeyError(f"no column named `{key}` in {self._columns}")

    def values(self) -> List[Value]:
        """The row's values, in column order."""
        return list(self._values)

    def as_dict(self) -> dict:
        """The row as a dict of column name to value."""
        return dict(zip(self._columns, self._values))

    def __repr__(self) -> str:
        return f"Row({self.as_dict()!r})"


class Rows:
    """The rows a query returned, with their column names."""

    def __init__(self, columns: List[str], rows: List[List[Value]]):
        self.columns = columns
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[Row]:
        return (Row(self.columns, values) for values in self._rows)

    def __getitem__(self, index: int) -> Row:
        return Row(self.columns, self._rows[index])


class Db:
    """The database handle a step receives: inside the step's transaction, limited to what the
    host allows the module. Placeholders are ``?`` on SQLite and MySQL, ``$1`` on PostgreSQL
    (``db.param(n)`` gives the right one)."""

    def __init__(self, conn: database.Connection, ctx: Any):
        self._conn = conn
        self.context = Context(ctx)

    @property
    def dialect(self) -> str:
        """``sqlite``, ``postgres`` or ``mysql``."""
        return self._conn.dialect().name.lower()

    def param(self, n: int) -> str:
        """The placeholder of the ``n``th parameter (from 1) in this dialect."""
        return f"${n}" if self.dialect == "postgres" else "?"

    def execute(self, sql: str, params: Sequence[Value] = ()) -> int:
        """Runs one statement; returns the number of rows it affected."""
        return _call(sql, lambda: self._conn.execute(sql, _to_wit_list(params)))

    def execute_tolerant(self, sql: str, params: Sequence[Value] = ()) -> Optional[int]:
        """Runs one statement that may fail without failing the step (the host records the
        failure); returns the rows affected, or None when it failed."""
        try:
            return self._conn.execute_tolerant(sql, _to_wit_list(params))
        except Err:
            return None

    def execute_batch(self, sql: str, rows: Sequence[Sequence[Value]]) -> int:
        """Runs one statement once per parameter row, in one host call."""
        wit_rows = [_to_wit_list(row) for row in rows]
        return _call(sql, lambda: self._conn.execute_batch(sql, wit_rows))

    def query(self, sql: str, params: Sequence[Value] = ()) -> Rows:
        """Runs a query and returns all of its rows."""
        result = _call(sql, lambda: self._conn.query(sql, _to_wit_list(params)))
        return Rows(result.columns, [[_from_wit(v) for v in row] for row in result.rows])

    def query_iter(self, sql: str, params: Sequence[Value] = ()) -> Iterator[Row]:
        """Runs a query and yields its rows, read from the host a page at a time (for results
        too large to hold at once; needs host API 0.1.2). Only a query that reads can be
        iterated; other statements may run meanwhile."""
        cursor = _call(sql, lambda: self._conn.open_cursor(sql, _to_wit_list(params)))
        with cursor:
            columns = cursor.columns()
            while True:
                page = _call(sql, lambda: cursor.next(_PAGE_ROWS))
                if not page:
                    return
                for values in page:
                    yield Row(columns, [_from_wit(v) for v in values])

    def query_scalar(self, sql: str, params: Sequence[Value] = ()) -> Value:
        """Runs a query that must return exactly one row and returns its first column."""
        rows = self.query(sql, params)
        if len(rows) != 1:
            raise Error(f"expected one row, got {len(rows)} (in `{sql}`)")
        return rows[0][0]


def debug(message: str) -> None:
    """Logs a debug line through the host."""
    _log.log(_log.Level.DEBUG, message)


def info(message: str) -> None:
    """Logs an informational line through the host."""
    _log.log(_log.Level.INFO, message)


def warn(message: str) -> None:
    """Logs a warning through the host."""
    _log.log(_log.Level.WARN, message)


def error(message: str) -> None:
    """Logs an error line through the host."""
    _log.log(_log.Level.ERROR, message)


def _call(sql: str, call: Callable[[], Any]) -> Any:
    """Makes a host call, turning the host's refusal into a ``DatabaseError``."""
    try:
        return call()
    except Err as refused:
        problem = refused.value
        kind = type(problem).__name__.split("_")[-1].lower()
        raise DatabaseError(kind, problem.value, sql) from None


def _to_wit(value: Value) -> types.SqlValue:
    if value is None:
        return types.SqlValue_Null()
    if isinstance(value, bool):
        return types.SqlValue_Integer(int(value))
    if isinstance(value, int):
        return types.SqlValue_Integer(value)
    if isinstance(value, float):
        return types.SqlValue_Real(value)
    if isinstance(value, str):
        return types.SqlValue_Text(value)
    if isinstance(value, (bytes, bytearray)):
        return types.SqlValue_Blob(bytes(value))
    raise TypeError(f"a SQL value is None, int, float, str or bytes, not {type(value).__name__}")


def _to_wit_list(values: Sequence[Value]) -> List[types.SqlValue]:
    return [_to_wit(v) for v in values]


def _from_wit(value: types.SqlValue) -> Value:
    if isinstance(value, types.SqlValue_Null):
        return None
    return value.value


def _run(up: Callable[[Db], None], conn: database.Connection, ctx: Any) -> None:
    """Runs a step's ``up`` (called by the glue ``wasmig build`` generates): any exception
    becomes the step's error."""
    try:
        up(Db(conn, ctx))
    except Exception as failure:  # noqa: BLE001 - every failure rolls the step back
        raise Err(str(failure) or type(failure).__name__) from None
