"""Command-line flags generated from a config dataclass's fields, so each default lives in the config.

A field's metadata (`training.config.option`) holds its help text and, where
it differs from `--field-name`, its spelling (`flag`), plus `group`,
`metavar`, `nargs` and `type` for the flags that need them. A bool field
that defaults to False becomes a switch (`--remat`); one that defaults to
True becomes its negation (`--no-backup`).
"""

import dataclasses


def flag_name(field):
    """The flag of a config field: its metadata's `flag`, else `--field-name`."""
    return field.metadata.get("flag", "--" + field.name.replace("_", "-"))


def _argument(field):
    """`add_argument` keyword arguments for a config field."""
    meta = field.metadata
    kwargs = {"dest": field.name, "help": meta.get("help") or None}
    if field.type is bool:
        kwargs["action"] = "store_false" if field.default else "store_true"
        return kwargs
    kwargs["default"] = field.default
    if field.default is not None:
        shown = " ".join(map(str, field.default)) if isinstance(field.default, tuple) \
            else field.default
        kwargs["help"] = f"{kwargs['help']} (default: {shown})" if kwargs["help"] \
            else f"default: {shown}"
    value_type = meta.get("type", field.type if field.type in (int, float) else None)
    if value_type is not None:
        kwargs["type"] = value_type
    for key in ("nargs", "metavar"):
        if key in meta:
            kwargs[key] = meta[key]
    return kwargs


def add_flags(parser, config_class):
    """Adds a flag for every field of `config_class` to `parser`.

    Args:
        parser: an `argparse.ArgumentParser`.
        config_class: a dataclass whose fields were made with
            `training.config.option`.

    Returns:
        `parser`.
    """
    groups = {}
    for field in dataclasses.fields(config_class):
        if field.metadata.get("cli", True) is False:
            continue
        title = field.metadata.get("group")
        target = parser
        if title:
            target = groups.setdefault(title, parser.add_argument_group(title))
        target.add_argument(flag_name(field), **_argument(field))
    return parser


def config_values(args, config_class):
    """The parsed values of `config_class`'s fields, as keyword arguments.

    Args:
        args: the `argparse.Namespace`.
        config_class: the dataclass the flags were made from.

    Returns:
        A dict, field name to value (lists from `nargs` as tuples).
    """
    values = {}
    for field in dataclasses.fields(config_class):
        if hasattr(args, field.name):
            value = getattr(args, field.name)
            values[field.name] = tuple(value) if isinstance(value, list) else value
    return values


def command_line(config_class, values, **changes):
    """The flags that give `values`, `changes` applied: a command to run again.

    Args:
        config_class: the dataclass the flags were made from.
        values: its field values (`config_values`).
        **changes: fields to set (`log_dir=...`) or, set to their
            default, to leave out (`existing="resume"`).

    Returns:
        A list of arguments: a flag for each value that is not the default.
    """
    words = []
    for field in dataclasses.fields(config_class):
        value = changes.get(field.name, values.get(field.name, field.default))
        if field.metadata.get("cli", True) is False or value == field.default:
            continue
        if field.type is bool:
            words.append(flag_name(field))
        elif isinstance(value, (tuple, list)):
            words += [flag_name(field), *map(str, value)]
        else:
            words += [flag_name(field), str(value)]
    return words
