"""Where batch rows go: part files while the job runs, one file when it ends, resumable.

While a job runs, rows are buffered and written as numbered Parquet part files in
``<out>.parts/`` (each written under a temporary name and renamed, so a part is either
whole or absent). When every input is scored the parts, after the rows of an earlier
finished ``<out>``, are streamed into ``<out>`` (Parquet or CSV by its suffix; written
atomically) and the parts folder is removed.

**Resume.** Rerunning with the same ``--out`` first reads the input keys already in
``<out>`` and in ``<out>.parts/`` and skips those inputs: an interrupted job (Ctrl-C,
kill -9, a lost node) continues where its last part ended, and a finished job scores
only inputs added since. Delete ``<out>`` and ``<out>.parts/`` to start afresh.
Memory stays flat: one part's rows are held at a time.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from inkface.batch.rows import key_of_row
from inkface.core.atomic import atomic_path, check_output_path
from inkface.core.errors import InkfaceError

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
PART_ROWS = 20_000  # rows per part file (a few MB): bounds memory and lost work
PART_SECONDS = 60.0  # ... or this long since the last part, whichever comes first
_KEY_COLUMNS = ["input", "references"]


def output_format(out: str | Path) -> str:
    """``parquet`` or ``csv`` from ``out``'s suffix; anything else is refused."""
    suffix = Path(out).suffix.lower()
    if suffix not in FORMATS:
        raise InkfaceError(f"{out}: --out must end in .parquet or .csv, not {suffix or 'nothing'}")
    return FORMATS[suffix]


def parts_folder(out: str | Path) -> Path:
    return Path(f"{out}.parts")


def check_output(out: str | Path) -> Path:
    """Refuse an unusable ``--out`` (a folder, under a file, a bad suffix) before work."""
    output_format(out)
    target = check_output_path(out, "--out")
    check_output_path(parts_folder(target), "--out parts folder", folder=True)
    return target


def done_keys(out: str | Path) -> set[str]:
    """The input keys already written to ``out`` and its part files (see Resume)."""
    keys: set[str] = set()
    for table in _existing_tables(Path(out), _KEY_COLUMNS):
        for row in table.to_pylist():
            keys.add(key_of_row(row))
    return keys


def _existing_tables(
    out: Path, columns: list[str] | None = None, schema: pa.Schema | None = None
) -> Iterator[pa.Table]:
    """The rows of a finished ``out`` (if any), then those of each part, in order."""
    if out.is_file():
        yield from _read_batches(out, columns, schema)
    for part in _parts(parts_folder(out)):
        yield from _read_batches(part, columns, schema)


def _read_batches(
    path: Path, columns: list[str] | None, schema: pa.Schema | None = None
) -> Iterator[pa.Table]:
    """``path``'s rows in pieces (both formats streamed), only ``columns`` if given."""
    try:
        if output_format(path) == "csv":
            types = {"input": pa.string(), "references": pa.string()}
            types.update({f.name: f.type for f in schema or []})
            options = pa_csv.ConvertOptions(
                column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False
            )
            if columns:
                header = pa_csv.open_csv(path).schema.names
                options.include_columns = [c for c in columns if c in header]
            with pa_csv.open_csv(path, convert_options=options) as reader:
                for batch in reader:
                    yield pa.Table.from_batches([batch])
            return
        parquet = pq.ParquetFile(path)
        names = parquet.schema_arrow.names
        wanted = [c for c in columns if c in names] if columns else None
        for batch in parquet.iter_batches(columns=wanted):
            yield pa.Table.from_batches([batch])
    except (pa.ArrowException, OSError) as exc:
        raise InkfaceError(
            f"{path}: existing output cannot be read to resume ({exc}); move it away"
        ) from None


def _parts(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    for stale in folder.glob(".part-*"):  # a temporary file of a killed job
        stale.unlink(missing_ok=True)
    return sorted(folder.glob("part-*.parquet"))


class PartWriter:
    """Buffers rows and writes them as numbered part files (see the module docstring)."""

    def __init__(self, out: str | Path, schema: pa.Schema) -> None:
        self.out = Path(out)
        self.schema = schema
        self.folder = parts_folder(self.out)
        self.folder.mkdir(parents=True, exist_ok=True)
        existing = _parts(self.folder)
        self.next_index = 1 + max((int(p.stem.split("-")[1]) for p in existing), default=-1)
        self._buffer: list[pa.Table] = []
        self._rows = 0
        self._since = time.monotonic()
        self.rows_written = 0

    def write(self, table: pa.Table) -> None:
        if table.schema != self.schema:
            table = table.select(self.schema.names).cast(self.schema)
        self._buffer.append(table)
        self._rows += table.num_rows
        if self._rows >= PART_ROWS or time.monotonic() - self._since >= PART_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows as the next part (nothing when the buffer is empty)."""
        if not self._buffer:
            return
        table = pa.concat_tables(self._buffer)
        final = self.folder / f"part-{self.next_index:06d}.parquet"
        temp = self.folder / f".part-{self.next_index:06d}.tmp"
        pq.write_table(table, temp)
        os.replace(temp, final)
        self.next_index += 1
        self.rows_written += table.num_rows
        self._buffer, self._rows, self._since = [], 0, time.monotonic()


def finish(out: str | Path, schema: pa.Schema, visit: Callable[[pa.Table], None]) -> int:
    """Stream the earlier ``out`` and every part into a new ``out`` (atomically), calling
    ``visit`` on each piece (the summary's counts), then remove the parts; the rows."""
    out = Path(out)
    fmt = output_format(out)
    rows = 0
    with atomic_path(out, suffix=out.suffix) as temp:
        writer: pq.ParquetWriter | pa_csv.CSVWriter
        writer = (
            pq.ParquetWriter(temp, schema)
            if fmt == "parquet"
            else pa_csv.CSVWriter(str(temp), schema)
        )
        try:
            for table in _existing_tables(out, schema=schema):
                table = _conform(table, schema, out)
                visit(table)
                writer.write_table(table)
                rows += table.num_rows
            if rows == 0 and fmt == "parquet":
                writer.write_table(schema.empty_table())
        finally:
            writer.close()
    shutil.rmtree(parts_folder(out), ignore_errors=True)
    return rows


def _conform(table: pa.Table, schema: pa.Schema, out: Path) -> pa.Table:
    if table.schema.names != schema.names:
        raise InkfaceError(
            f"{out}: existing rows have other columns than this job's (other runs or "
            "heads?); write to a new --out"
        )
    return table if table.schema == schema else table.cast(schema)
