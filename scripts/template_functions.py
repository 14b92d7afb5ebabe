#!/usr/bin/env python3
"""The Lambda functions template.yaml declares, read without a YAML library (the template's
CloudFormation tags need one that knows them): for each AWS::Serverless::Function, its logical id,
its `BuildProperties: Binary`, its MemorySize and the names of its environment variables (the
Globals' plus its own).

    template_functions.py [TEMPLATE]            # one line per function: binary memory VAR,VAR,...
    template_functions.py --binaries [TEMPLATE] # the binaries, one per line
"""

import re
import sys


def _indent(line):
    return len(line) - len(line.lstrip(" "))


def _meaningful(lines):
    for number, line in enumerate(lines):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield number, line


def _block(lines, start):
    """The lines indented deeper than lines[start], after it."""
    own = _indent(lines[start])
    out = []
    for line in lines[start + 1:]:
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and _indent(line) <= own:
            break
        out.append(line)
    return out


def _variables(block):
    names = []
    for number, line in _meaningful(block):
        if line.strip() == "Variables:":
            for _, inner in _meaningful(_block(block, number)):
                match = re.match(r"^\s+([A-Za-z_][A-Za-z0-9_]*):", inner)
                if match and _indent(inner) == _indent(block[number]) + 2:
                    names.append(match.group(1))
    return names


def _scalar(block, key):
    for _, line in _meaningful(block):
        match = re.match(r"^\s+%s:\s*([^\s#]+)\s*$" % key, line)
        if match:
            return match.group(1)
    return None


def _top_level(lines, name):
    for number, line in enumerate(lines):
        if line.rstrip() == name + ":":
            return _block(lines, number)
    return []


def functions(path="template.yaml"):
    with open(path) as handle:
        lines = handle.read().splitlines()
    globals_function = []
    globals_block = _top_level(lines, "Globals")
    for number, line in _meaningful(globals_block):
        if line.strip() == "Function:":
            globals_function = _block(globals_block, number)
    global_env = _variables(globals_function)
    global_memory = _scalar(globals_function, "MemorySize") or "128"
    resources = _top_level(lines, "Resources")
    found = []
    for number, line in _meaningful(resources):
        if _indent(line) != 2:
            continue
        block = _block(resources, number)
        if _scalar(block, "Type") != "AWS::Serverless::Function":
            continue
        binary = _scalar(block, "Binary")
        if binary is None:
            continue
        own_env = [name for name in _variables(block) if name not in global_env]
        found.append({
            "logical_id": line.strip().rstrip(":"),
            "binary": binary,
            "memory": _scalar(block, "MemorySize") or global_memory,
            "env": global_env + own_env,
        })
    return found


def main(argv):
    binaries_only = "--binaries" in argv
    paths = [arg for arg in argv if not arg.startswith("--")]
    listed = functions(paths[0] if paths else "template.yaml")
    if not listed:
        print("no AWS::Serverless::Function with a Binary in the template", file=sys.stderr)
        return 1
    for function in listed:
        if binaries_only:
            print(function["binary"])
        else:
            print(function["binary"], function["memory"], ",".join(function["env"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
