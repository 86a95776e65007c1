"""Validates TOML files against a JSON Schema (draft 2020-12) with the
`jsonschema` package, reading each file with `tomli` (the standard library's
`tomllib` before Python 3.15 reads TOML 1.0 only, and brownout's files use
TOML 1.1's multi-line inline tables; `tomli` is the same parser, released
ahead): the check an editor makes with brownout's schema, done by peers
brownout did not write.

usage: validate.py SCHEMA FILE...
Prints `FILE: ok` or `FILE: invalid: <first error>` per file; exits 1 when
any file is invalid, 2 when the schema itself is not a valid schema.
"""

import json
import sys
import jsonschema

try:
    import tomli as toml
except ImportError:
    import tomllib as toml


def main(argv):
    schema_path, files = argv[1], argv[2:]
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as e:
        print(f"{schema_path}: not a valid draft 2020-12 schema: {e.message}")
        return 2
    validator = jsonschema.Draft202012Validator(schema)
    invalid = 0
    for path in files:
        with open(path, "rb") as f:
            try:
                document = toml.load(f)
            except toml.TOMLDecodeError as e:
                print(f"{path}: invalid: not TOML: {e}")
                invalid += 1
                continue
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path) or "(top)"
            print(f"{path}: invalid: {where}: {errors[0].message}")
            invalid += 1
        else:
            print(f"{path}: ok")
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
