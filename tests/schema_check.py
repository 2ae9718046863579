#!/usr/bin/python3
"""Validates a JSON document against a JSON schema, offline.

    schema_check.py SCHEMA DOCUMENT

Exits 0 when DOCUMENT is valid, 1 (listing every violation with its
path) when it is not, 2 when either file cannot be read or the schema
is not a valid schema.  The draft is the one the schema's "$schema"
names (the SARIF 2.1.0 schema of OASIS is draft-04).  A "$ref" is
resolved inside the schema only: the tests run without a network, and a
remote reference must fail loudly rather than pass or hang.  Formats
are checked too ("uri" and "uri-reference" with python3-rfc3987, so an
artifact location must be a real URI reference, not a raw file name).

Runs with Debian's python3-jsonschema, under /usr/bin/python3.
"""
import json
import sys

import jsonschema
import jsonschema.validators


def refuse_remote(uri):
    """A handler for remote $refs: there is no network here."""
    raise jsonschema.exceptions.RefResolutionError(
        "remote reference %r: the schema must be self-contained" % uri)


def main(argv):
    """Checks argv[2] against the schema argv[1]; returns an exit code."""
    if len(argv) != 3:
        print("usage: schema_check.py SCHEMA DOCUMENT", file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            schema = json.load(f)
        with open(argv[2], encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        print("schema_check: %s" % e, file=sys.stderr)
        return 2
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.exceptions.SchemaError as e:
        print("schema_check: %s is not a valid schema: %s" % (argv[1], e.message),
              file=sys.stderr)
        return 2
    # The schema's own id (draft-04 "id", later "$id") is its base URI,
    # so that "#/definitions/..." resolves inside it.
    resolver = jsonschema.RefResolver.from_schema(
        schema, id_of=cls.ID_OF,
        handlers={"http": refuse_remote, "https": refuse_remote})
    try:
        errors = sorted(cls(schema, resolver=resolver,
                            format_checker=jsonschema.FormatChecker()).iter_errors(doc),
                        key=lambda e: list(e.absolute_path))
    except jsonschema.exceptions.RefResolutionError as e:
        print("schema_check: %s" % e, file=sys.stderr)
        return 2
    for e in errors:
        path = "/".join(str(p) for p in e.absolute_path)
        print("%s: /%s: %s" % (argv[2], path, e.message))
    if errors:
        return 1
    print("%s: valid against %s (%s)" % (argv[2], argv[1], cls.__name__))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
