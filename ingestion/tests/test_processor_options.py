"""The options processors take, declared once in ``ingestion.processors`` and checked there."""

import pytest

from ingestion import processors


def test_every_registered_processor_has_its_options_declared():
    for name in processors.names():
        options = processors.options_for(name)
        assert [o.name for o in options][-1] == "prefer_llm"  # the playbook's flag, taken by all
        assert all(o.help and o.kind for o in options)


@pytest.mark.parametrize("name,given,cleaned", [
    ("whatsapp_text", {"day_first": "Yes", "timezone": " Asia/Kolkata "}, {"day_first": "true",
                                                                          "timezone": "Asia/Kolkata"}),
    ("whatsapp_text", {"day_first": "0"}, {"day_first": "false"}),
    ("whatsapp_text", {"day_first": ""}, {}),  # blank: the default
    ("spreadsheet", {"encoding": "latin-1", "delimiter": "tab"}, {"encoding": "latin-1", "delimiter": "tab"}),
    ("spreadsheet", {"delimiter": ";", "prefer_llm": "off"}, {"delimiter": ";", "prefer_llm": "false"}),
])
def test_validate_options_cleans_good_values(name, given, cleaned):
    assert processors.validate_options(name, given) == cleaned


@pytest.mark.parametrize("name,given,message", [
    ("whatsapp_text", {"colour": "red"}, "unknown option 'colour' for the whatsapp_text processor; known options: "
                                         "day_first=true|false: "),
    ("whatsapp_text", {"day_first": "maybe"}, "option day_first='maybe' is not a boolean (use true or false)"),
    ("whatsapp_text", {"timezone": "Mars/Base"}, "option timezone='Mars/Base' is not a known IANA time zone"),
    ("spreadsheet", {"encoding": "nope"}, "option encoding='nope' is not a known text encoding"),
    ("spreadsheet", {"encoding": "rot13"}, "option encoding='rot13' is not a text encoding"),
    ("spreadsheet", {"delimiter": ";;"}, "option delimiter=';;' is not one character (or tab)"),
])
def test_validate_options_refuses_unknown_keys_and_bad_values(name, given, message):
    with pytest.raises(processors.InvalidOption) as raised:
        processors.validate_options(name, given)
    assert str(raised.value).startswith(message)
    assert isinstance(raised.value, ValueError)


def test_unknown_option_message_lists_every_known_key():
    with pytest.raises(ValueError) as raised:
        processors.validate_options("spreadsheet", {"day_first": "true"})
    for option in processors.options_for("spreadsheet"):
        assert f"{option.name}=" in str(raised.value)


def test_unknown_processor_is_a_value_error():
    with pytest.raises(processors.UnknownProcessor, match="unknown processor 'pdf'"):
        processors.validate_options("pdf", {})


def test_detection_message_names_the_users_file(tmp_path):
    stored = tmp_path / ("ab" * 32 + ".bin")
    stored.write_bytes(b"\x00\x01 binary")
    with pytest.raises(processors.UnknownProcessor) as raised:
        processors.detect(stored, "scan from Ana.bin")
    assert str(raised.value).startswith("cannot tell what kind of file scan from Ana.bin is; PriceHub reads ")
    with pytest.raises(processors.UnknownProcessor) as raised:
        processors.detect(stored)
    assert "ab" * 32 not in str(raised.value)


def test_each_processor_declares_the_options_its_code_reads():
    """Every ``context.options.get("x")`` / ``context.option_bool("x")`` in a processor module is a
    declared option of that processor, so validation never refuses what a processor reads."""
    import re
    from importlib import import_module
    from pathlib import Path

    for name, module in processors.MODULES.items():
        source = Path(import_module(module).__file__).read_text()
        read = set(re.findall(r"""(?:options\.get|option_bool)\(\s*["'](\w+)["']""", source))
        declared = {option.name for option in processors.options_for(name)}
        assert read <= declared, (name, read - declared)
