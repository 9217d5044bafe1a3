#!/usr/bin/env python3
"""Checks every services/<svc>/openapi.yaml.

Always (python3-yaml, installed by tools/deps.sh): the file parses, says
openapi 3.x, every operation has responses whose codes are 3-digit strings
or "default", every path parameter in a template is declared, and every
local $ref resolves. With openapi-spec-validator importable (pip; Debian 12
has no package for it), the full validation on top.
Exit status 1 naming the file and place of each fault."""
import glob
import os
import re
import sys

import yaml

RESPONSE_KEYS = {"$ref", "description", "headers", "content", "links"}
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def resolve(doc, ref):
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def walk_refs(doc, node, where, faults):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if not ref.startswith("#/"):
                faults.append("%s: $ref %s is not local" % (where, ref))
            elif not resolve(doc, ref):
                faults.append("%s: $ref %s does not resolve" % (where, ref))
        for k, v in node.items():
            walk_refs(doc, v, "%s/%s" % (where, k), faults)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk_refs(doc, v, "%s/%d" % (where, i), faults)


def declared_path_params(doc, item, op):
    names = set()
    for p in (item.get("parameters") or []) + (op.get("parameters") or []):
        if isinstance(p, dict) and "$ref" in p and resolve(doc, p["$ref"]):
            node = doc
            for part in p["$ref"][2:].split("/"):
                node = node[part]
            p = node
        if isinstance(p, dict) and p.get("in") == "path":
            names.add(p.get("name"))
    return names


def check(path):
    faults = []
    try:
        doc = yaml.safe_load(open(path, encoding="utf-8"))
    except yaml.YAMLError as e:
        return ["does not parse: %s" % e]
    if not isinstance(doc, dict) or not str(doc.get("openapi", "")).startswith("3."):
        return ["not an OpenAPI 3 document"]
    paths = doc.get("paths")
    if not isinstance(paths, dict) or not paths:
        return ["no paths"]
    for tmpl, item in paths.items():
        if not isinstance(item, dict):
            faults.append("%s: not a path item" % tmpl)
            continue
        wanted = set(re.findall(r"\{([^}]+)\}", tmpl))
        for method, op in item.items():
            if method not in METHODS:
                continue
            where = "%s %s" % (method.upper(), tmpl)
            responses = op.get("responses") if isinstance(op, dict) else None
            if not isinstance(responses, dict) or not responses:
                faults.append("%s: no responses" % where)
                continue
            for code, resp in responses.items():
                if not (code == "default" or re.fullmatch(r"[1-5][0-9X]{2}", str(code))):
                    faults.append("%s: response code %r" % (where, code))
                if not isinstance(resp, dict) or not ("$ref" in resp or "description" in resp):
                    faults.append("%s %s: a response without description: %r" % (where, code, resp))
                elif set(resp) - RESPONSE_KEYS:
                    # e.g. {description: Not ready, or draining.}: YAML reads
                    # two keys where one description was meant
                    faults.append("%s %s: unknown response key(s) %s" % (
                        where, code, ", ".join(sorted(map(str, set(resp) - RESPONSE_KEYS)))))
            missing = wanted - declared_path_params(doc, item, op)
            if missing:
                faults.append("%s: path parameter(s) %s not declared" % (where, ", ".join(sorted(missing))))
    walk_refs(doc, doc, "#", faults)
    try:
        from openapi_spec_validator import validate
    except ImportError:
        return faults
    try:
        validate(doc)
    except Exception as e:  # the validator's own error types vary by version
        faults.append("openapi-spec-validator: %s" % str(e).splitlines()[0])
    return faults


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "services"
    files = sorted(glob.glob(os.path.join(root, "*", "openapi.yaml")))
    if not files:
        print("no openapi.yaml under %s" % root)
        return 1
    try:
        import openapi_spec_validator  # noqa: F401
        how = "structure, $refs and openapi-spec-validator"
    except ImportError:
        how = "structure and $refs (openapi-spec-validator not installed)"
    bad = 0
    for f in files:
        faults = check(f)
        for fault in faults:
            print("%s: %s" % (f, fault))
        bad += bool(faults)
    print("openapi: %d files checked (%s), %d with faults" % (len(files), how, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
