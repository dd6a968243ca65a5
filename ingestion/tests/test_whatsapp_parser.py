"""The WhatsApp transcript parser and the ``whatsapp_text`` processor.

Header and body lines are the literal examples of
``/work/shared/reference/whatsapp-export-formats.md`` (IDs A1..C5 refer to its catalog).
"""

import json
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ingestion.processors.whatsapp_text import parse_transcript, processor
from ingestion.types import IngestContext, OfferCandidate, RowError

CORPUS = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "chats"


def only(text, **options):
    """The single message of a one-message transcript."""
    transcript = parse_transcript(text, **options)
    assert len(transcript.messages) == 1, transcript.messages
    return transcript.messages[0]


def naive(message):
    return message.sent_at.replace(tzinfo=None)


# --------------------------------------------------------------------------- header formats


@pytest.mark.parametrize(
    ("line", "when", "author", "body"),
    [
        # Android family
        ("18/03/2022, 14:56 - Dmitry S: Hello", datetime(2022, 3, 18, 14, 56), "Dmitry S", "Hello"),  # A1
        ("06/10/18, 10:56 - Me: Lorem ipsum dolor sit amet", datetime(2018, 10, 6, 10, 56), "Me",
         "Lorem ipsum dolor sit amet"),  # A2
        ("21/05/2019, 0:38 - Tamir: hi", datetime(2019, 5, 21, 0, 38), "Tamir", "hi"),  # A2b
        ("3/26/20, 7:44 PM - Author 1: hello", datetime(2020, 3, 26, 19, 44), "Author 1", "hello"),  # A3
        ("09/10/2023, 12:57\u202fpm - +44 7123 456789: hi", datetime(2023, 10, 9, 12, 57), "+44 7123 456789", "hi"),  # A5
        ("09/10/22, 10:37 p.\u00a0m. - John Doe: Testing abnormal\u00a0unicode", datetime(2022, 10, 9, 22, 37),
         "John Doe", "Testing abnormal\u00a0unicode"),  # A6: the body keeps its NBSP
        ("01/01/2019, 11:25 a. m. - John Doe: Lorem ipsum dolor sit amet.", datetime(2019, 1, 1, 11, 25),
         "John Doe", "Lorem ipsum dolor sit amet."),  # A6b
        ("20/6/2017 8:28 p.\u00a0m. - Michelle: test", datetime(2017, 6, 20, 20, 28), "Michelle", "test"),  # A6c
        ("29.01.18, 23:33 - Alice: Hi?", datetime(2018, 1, 29, 23, 33), "Alice", "Hi?"),  # A8
        ("18.03.22 14:56 - Dmitry S: Hello", datetime(2022, 3, 18, 14, 56), "Dmitry S", "Hello"),  # A9
        ("18.03.2022, 14:56 - Dmitry S: Hello", datetime(2022, 3, 18, 14, 56), "Dmitry S", "Hello"),  # A10
        ("31.5.2019 klo 16.58 - Matti: Moi", datetime(2019, 5, 31, 16, 58), "Matti", "Moi"),  # A12
        ("13.6.2018 klo 21.25.15 - a: m", datetime(2018, 6, 13, 21, 25, 15), "a", "m"),  # A12 with seconds
        ("2019-01-01 12:00 - John Doe: Hello 😄", datetime(2019, 1, 1, 12, 0), "John Doe", "Hello 😄"),  # A14
        ("13. 6. 2018. 21:25:15 a: m", datetime(2018, 6, 13, 21, 25, 15), "a", "m"),  # A16
        ("29.01.18, 11:24 nachm. - Alice: Hallo", datetime(2018, 1, 29, 23, 24), "Alice", "Hallo"),  # A17
        ("2020. 3. 25. 오후 7:31 - 홍길동: 안녕", datetime(2020, 3, 25, 19, 31), "홍길동", "안녕"),  # A19
        ("09/12/2012 17:03:48: Sender Name: Message", datetime(2012, 12, 9, 17, 3, 48), "Sender Name", "Message"),  # A20
        ("3/24/14, 1:59:59 PM: Sender Name: Message", datetime(2014, 3, 24, 13, 59, 59), "Sender Name", "Message"),
        # iOS family
        ("[3/27/22, 21:41:35] Dmitry S: Hello World", datetime(2022, 3, 27, 21, 41, 35), "Dmitry S", "Hello World"),  # B1
        ("[31/07/2020, 10:25:56] Alya: He left", datetime(2020, 7, 31, 10, 25, 56), "Alya", "He left"),  # B2
        ("[7/11/2017, 8:20:41 PM] someone: bla bla bla", datetime(2017, 11, 7, 20, 20, 41), "someone",
         "bla bla bla"),  # B3 (day first by default: nothing in one line says otherwise)
        ("[8/15/23, 9:12:33\u202fAM] Dr. Feather: I spotted a rare Hyacinth Macaw yesterday",
         datetime(2023, 8, 15, 9, 12, 33), "Dr. Feather", "I spotted a rare Hyacinth Macaw yesterday"),  # B4
        ("[3/18/22 14:56:00] Elon Musk: hi", datetime(2022, 3, 18, 14, 56), "Elon Musk", "hi"),  # B8
        ("[3/27/22 21.41.35] Dmitry S: Hello World", datetime(2022, 3, 27, 21, 41, 35), "Dmitry S", "Hello World"),  # B9
        ("[12.3.2022 klo 14.08.18] Matias Virtanen: Moi", datetime(2022, 3, 12, 14, 8, 18), "Matias Virtanen", "Moi"),  # B10
        ("[1.1.2019, 12.00.00] John Doe: Hello 😄", datetime(2019, 1, 1, 12, 0), "John Doe", "Hello 😄"),
        ("[21:41:35, 3/27/22] Dmitry S: Hello World", datetime(2022, 3, 27, 21, 41, 35), "Dmitry S", "Hello World"),  # B11
        ("[3/27/2565 BE, 21:41:35] Dmitry S: Hello World", datetime(2022, 3, 27, 21, 41, 35), "Dmitry S",
         "Hello World"),  # B12 Buddhist year
        ("[3/27/R4, 21:41:35] Dmitry S: Hello World", datetime(2022, 3, 27, 21, 41, 35), "Dmitry S", "Hello World"),  # B13
        ("[\u200f27\u200f/3\u200f/2022\u060c 21:41:35] Dmitry S: Hello World", datetime(2022, 3, 27, 21, 41, 35),
         "Dmitry S", "Hello World"),  # B14 RTL marks inside the date, Arabic comma
        ("[2023/5/4, 16:17:13] ~ Carolina: 🥺", datetime(2023, 5, 4, 16, 17, 13), "Carolina", "🥺"),  # B15
        ("[2023/5/4, 16:17:13] ~\u202fCarolina: 🥺", datetime(2023, 5, 4, 16, 17, 13), "Carolina", "🥺"),
        ("\ufeff[29.01.18, 23:33:03] Alice: Ist das hier ein Chatverlauf?", datetime(2018, 1, 29, 23, 33, 3), "Alice",
         "Ist das hier ein Chatverlauf?"),  # B20 BOM
        ("\ufeff\ufeff[29.01.18, 12:24:03] Alice: zweimal", datetime(2018, 1, 29, 12, 24, 3), "Alice", "zweimal"),
        ("[01-29-2018, 23:33:00] Alice: Hello?", datetime(2018, 1, 29, 23, 33), "Alice", "Hello?"),  # B21
        # old iOS
        ("7/11/16, 2:33:08 PM: Sophia H.: Huhu... Hoffe ihr denkt alle an heute Abend", datetime(2016, 11, 7, 14, 33, 8),
         "Sophia H.", "Huhu... Hoffe ihr denkt alle an heute Abend"),  # C2
    ],
)
def test_header_formats(line, when, author, body):
    message = only(line)
    assert (naive(message), message.author, message.body, message.kind) == (when, author, body, "text")


def test_us_header_with_narrow_no_break_space_month_first():
    # A4: nothing in one line decides the order; the option does.
    message = only("1/4/23, 7:02\u202fPM - Person 2: hi", day_first=False)
    assert naive(message) == datetime(2023, 1, 4, 19, 2)


@pytest.mark.parametrize(
    "line",
    [
        "2019-05-02, 11:23 a.m. - Messages to this group are now secured with end-to-end encryption. Tap for more info.",  # A7
        "23-03-2022 13:31 - Berichten en oproepen worden end-to-end versleuteld. Niemand buiten deze chat kan ze "
        "lezen of beluisteren, zelfs WhatsApp niet.",  # A11
        "2018/07/25, 09:01 - Messages to this group are now secured with end-to-end encryption. Tap for more info.",  # A13
        "03/01/2021, 9:15 in the morning - Messages and calls are end-to-end encrypted. No one outside of this chat, "
        "not even WhatsApp, can read or listen to them.",  # A18
        "02/06/22, 10:56 am - +91 79997 52132 joined using this group's invite link",  # A5b
        "7/1/16, 4:56:55 PM: \u200eSophia H. created this group",  # C5
        "[1/11/23, 16:11:21] \u200eYou created group \u201cGroup Chat\u201d",  # B16
        "[1/22/22, 13:43:03] \u200e\u202a+90\u00a0535\u00a0540\u00a020\u00a075\u202c left",
        "8/3/22, 22:27 - +91\u00a087006\u00a042650 changed to +91\u00a092125\u00a001485",
        '2019-05-20, 8:35 p.m. - +91 94096 54949 changed the subject from "Smit: Far From Home" to "New Day - First Day"',
        "[14.08.2024, 21:00:11] My Group Name: Boris added you",  # B17, authored
        "[14.08.2024, 21:00:10] Boris: Boris created group \u201cMy Group Name\u201d",
        "[19/10/2025, 01:02:19] Lappers: \u200eRudi Anderson added you\r\n",
        "[3/18/22, 14:56:01] Elon Musk: \u200eMessages and calls are end-to-end encrypted. No one outside of this chat, "
        "not even WhatsApp, can read or listen to them.",  # B18
        "[4/28/22, 20:17:30] Elon Musk: \u200e\u200eYour security code with Elon changed. \u200eTap to learn more.",
        "[3/18/22 14:56:00] Elon Musk: \u200eLes messages et les appels sont chiffrés de bout en bout.",  # B8
    ],
)
def test_system_messages(line):
    assert only(line).kind == "system"


def test_colon_trap_is_not_an_author():
    message = only('2019-05-20, 8:35 p.m. - +91 94096 54949 changed the subject from "Smit: Far From Home" to "x"')
    assert message.author == ""
    assert message.body.startswith("+91 94096 54949 changed the subject")


def test_name_value_lines_in_a_body_are_not_authors():
    message = only("18/03/2022, 14:56 - Dmitry S: Price: 750\nRAM: 8GB")
    assert (message.author, message.body) == ("Dmitry S", "Price: 750\nRAM: 8GB")


def test_phone_number_author_loses_its_invisible_marks():
    line = "\u200e[28/10/21, 4:32:08 PM] \u202a+91\u00a084464\u00a086072\u202c: \u200e<attached: 00012624-PHOTO-2021-10-28-16-32-08.jpg>"
    message = only(line)  # B19
    assert (message.author, message.kind) == ("+91 84464 86072", "media")
    old = only("4/26/16, 16:23:03: \u202a+55\u00a061\u00a08121\u20113457\u202c: <\u200eimage omitted>")  # C3
    assert (old.author, old.kind) == ("+55 61 8121-3457", "media")


# --------------------------------------------------------------------------- bodies


@pytest.mark.parametrize(
    "body",
    [
        "<Media omitted>", "<Médias omis>", "<Multimedia omitido>", "<Medien ausgeschlossen>", "<Arquivo de mídia oculto>",
        "<Media weggelaten>", "null", "\u200eimage omitted", "\u200evideo omitted", "\u200eBild weggelassen",
        "\u200eimagen omitida", "<\u200eimage omitted>", "<\u200eaudio omitted>",
        "\u200e<attached: 00000035-PHOTO-2022-03-27-21-41-55.jpg>",
        "42821-704405.pdf \u2022 \u200e2 pages \u200e<attached: 00000004-42821-704405.pdf>",
        "IMG-20210428-WA0001.jpg (file attached)", "2013-08-06-PHOTO-00000006.jpg <attached>",
        "\u200eAlex.vcf (soubor byl přiložen)",
    ],
)
def test_media_placeholders(body):
    message = only(f"18/03/2022, 15:10 - Dmitry S: {body}")
    assert (message.kind, message.placeholder, message.body) == ("media", body, "")


def test_media_caption_becomes_the_body_on_the_next_line():
    message = only("18/03/2022, 15:10 - Dmitry S: <Media omitted>\nCaption")
    assert (message.kind, message.body, message.line_no, message.body_line) == ("media", "Caption", 1, 2)
    hashed = only("18/03/2022, 15:10 - A: \u200e4f2680f1db95a8454775cc2eefc95bfc.jpg (Datei angehängt)\nDir auch frohe Ostern.")
    assert (hashed.kind, hashed.body) == ("media", "Dir auch frohe Ostern.")


@pytest.mark.parametrize(
    "body",
    ["This message was deleted", "You deleted this message", "\u200eThis message was deleted.",
     "\u200eYou deleted this message.", "Diese Nachricht wurde gelöscht", "Se eliminó este mensaje", "Mensagem apagada"],
)
def test_deleted_messages(body):
    assert only(f"27/03/2022, 15:14 - Elon: {body}").kind == "deleted"


def test_edited_marker_is_removed_and_flagged():
    message = only("03/06/2023, 6:12 am - author: sample message <This message was edited>")
    assert (message.body, message.edited, message.kind) == ("sample message", True, "text")
    multi = only("03/06/2023, 6:12 am - author: list\niPhone 15 - 750 <This message was edited>")
    assert (multi.body, multi.edited) == ("list\niPhone 15 - 750", True)


def test_poll_location_and_call():
    poll = only("11/24/22, 16:03 - +91 98911 81801: POLL:\nWhich domain are you excited about?\n"
                "OPTION: AI ML (53 Votes)\nOPTION: Web dev (34 Votes)")
    assert poll.kind == "poll"
    assert only("27/03/2022, 10:00 - A: location: https://maps.google.com/?q=51.50214569326172,-0.12739796972656").kind == "location"
    assert only("[3/27/22, 21:41:55] Dmitry S: \u200eMissed voice call").kind == "call"


def test_multi_line_messages_stay_whole_with_blank_lines():
    text = ("13/07/2017, 09:12 - Test: It's fun doing text analysis with R\nisn't it?\n"
            "13/07/2017, 09:13 - Pat: How are you?\n\nIs everything alright?\n\n")
    first, second = parse_transcript(text).messages
    assert first.body == "It's fun doing text analysis with R\nisn't it?"
    assert second.body == "How are you?\n\nIs everything alright?\n"


def test_list_lines_that_start_with_digits_do_not_split():
    body = ["1. iPhone 13 128GB - $450", "12/128GB - 750$", "12.5 - 13.0 kg: R$ 3.999,00", "2x 500ml @ 150",
            "1\ufe0f\u20e3 iPhone 14 - 550usd", "[2,4,0,4,11,2602,36] ->   11", "Valid until 31/12/23, 21:00 - while stock lasts"]
    message = only("12/05/24, 09:00 - Vendor: Price list\n" + "\n".join(body))
    assert message.body == "Price list\n" + "\n".join(body)


def test_pasted_header_line_without_author_stays_in_the_body():
    text = ("15/03/2024, 11:30 - Karim: Forwarding from our supplier:\n"
            "14/03/2024, 18:05 - Price list:\n"
            "MacBook Air 13 M3 8/256 - 1.049\n"
            "15/03/2024, 11:35 - Lukas: thanks")
    transcript = parse_transcript(text)
    assert [m.author for m in transcript.messages] == ["Karim", "Lukas"]
    assert transcript.messages[0].body.splitlines()[1] == "14/03/2024, 18:05 - Price list:"
    assert transcript.headers_in_body == 1


def test_header_far_out_of_order_is_body_text_but_small_jumps_are_kept():
    pasted = ("21/03/2024, 10:00 - Karim: Copy of last month's post:\n"
              "02/02/2024, 09:00 - Karim: iPhone 15 - 799\n"
              "21/03/2024, 10:05 - Lukas: ok")
    transcript = parse_transcript(pasted)
    assert [m.line_no for m in transcript.messages] == [1, 3]
    assert transcript.headers_in_body == 1
    # Pustur #247: WhatsApp itself writes messages a minute out of order.
    jumpy = "12/21/20, 23:50 - A: one\n12/21/20, 23:49 - B: two\n12/21/20, 23:50 - B: three"
    assert [m.body for m in parse_transcript(jumpy).messages] == ["one", "two", "three"]


def test_name_colon_at_end_of_header_opens_a_body_on_the_next_lines():
    text = "12/05/24, 09:00 - Vendor: hi\n12/05/24, 09:01 - Vendor:\niPhone 15 - 750"
    second = parse_transcript(text).messages[1]
    assert (second.author, second.body) == ("Vendor", "\niPhone 15 - 750")


def test_bom_crlf_and_lone_cr():
    text = "\ufeff05/09/2024 10:15 - A: one\r\ntwo\r\n05/09/2024 10:16 - B: three\rfour\r\n"
    first, second = parse_transcript(text).messages
    assert (first.body, second.body, second.line_no) == ("one\ntwo", "three\nfour", 3)


def test_lines_before_the_first_header_are_orphans():
    transcript = parse_transcript("Chat export\n\n18/03/2022, 14:56 - Dmitry S: Hello")
    assert transcript.orphan_lines == [(1, "Chat export")]
    assert transcript.messages[0].line_no == 3


# --------------------------------------------------------------------------- day/month order


def test_day_first_from_a_component_over_12():
    transcript = parse_transcript("03/04/2024, 10:00 - A: x\n13/04/2024, 10:00 - A: y")
    assert (transcript.day_first, transcript.date_order) == (True, "over_12")
    assert naive(transcript.messages[0]) == datetime(2024, 4, 3, 10, 0)
    us = parse_transcript("1/8/24, 10:00 - A: x\n1/15/24, 10:00 - A: y")
    assert (us.day_first, us.date_order, naive(us.messages[0]).month) == (False, "over_12", 1)


def test_day_first_from_chronology():
    # Read month-first, Dec 3 -> Jan 4 would jump back a year; day-first runs forward.
    text = "11/03/2024, 10:00 - A: x\n12/03/2024, 10:00 - A: y\n01/04/2024, 10:00 - A: z\n02/04/2024, 10:00 - A: w"
    transcript = parse_transcript(text)
    assert (transcript.day_first, transcript.date_order) == (True, "chronology")
    assert naive(transcript.messages[2]) == datetime(2024, 4, 1, 10, 0)


def test_day_first_from_change_frequency_and_default():
    month_first = parse_transcript("1/5/24, 10:00 - A: x\n1/6/24, 10:00 - A: y\n1/7/24, 10:00 - A: z")
    assert (month_first.day_first, month_first.date_order) == (False, "frequency")
    single = parse_transcript("06/10/18, 10:56 - Me: Lorem")
    assert (single.day_first, single.date_order) == (True, "default")


def test_day_first_override_and_year_first():
    text = "03/04/2024, 10:00 - A: x\n13/04/2024, 10:00 - A: y"
    forced = parse_transcript(text, day_first=False)
    assert (forced.date_order, naive(forced.messages[0])) == ("option", datetime(2024, 3, 4, 10, 0))
    # 13/04 is no date month-first: that line becomes body text of the first message.
    assert len(forced.messages) == 1
    year_first = parse_transcript("2019-05-02, 11:23 a.m. - A: x")
    assert (year_first.day_first, year_first.date_order) == (None, "year_first")


def test_times_are_aware_in_the_given_zone():
    message = only("18/03/2022, 14:56 - Dmitry S: Hello", tz=ZoneInfo("Europe/Berlin"))
    assert message.sent_at.utcoffset().total_seconds() == 3600
    assert only("18/03/2022, 14:56 - Dmitry S: Hello").sent_at.tzinfo is timezone.utc


# --------------------------------------------------------------------------- processor


def write(tmp_path, text, name="chat.txt"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


CHAT = (
    "Export header line\n"
    "14/03/2024, 09:02 - Karim Mobiles created group \"EU Phone Traders\"\n"
    "14/03/2024, 09:16 - Karim Mobiles: TODAY'S LIST, all prices in EUR\n"
    "NEW SEALED\n"
    "iPhone 15 128GB - 689\n"
    "iPhone 15 Pro 128GB - 929 <This message was edited>\n"
    "14/03/2024, 09:20 - Lukas B: Price for 15 Pro 256?\n"
    "14/03/2024, 09:30 - Lukas B: <Media omitted>\n"
    "14/03/2024, 09:31 - Sofia: <Media omitted>\n"
    "Pixel 8 Pro 128GB open box - 589 EUR\n"
    "14/03/2024, 09:45 - Sofia: This message was deleted\n"
    "14/03/2024, 09:46 - Sofia: POLL:\nPreorder?\nOPTION: 128GB - $799 (3 votes)\n"
)


def test_process_yields_offers_with_time_sender_and_absolute_lines(tmp_path):
    context = IngestContext(timezone=timezone.utc)
    items = list(processor.process(write(tmp_path, CHAT), context))
    errors = [item for item in items if isinstance(item, RowError)]
    offers = [item for item in items if isinstance(item, OfferCandidate)]
    assert [(e.ref, e.message) for e in errors] == [("line 1", "text before the first message header")]
    assert [(o.ref, o.description, o.price, o.currency, o.condition, o.sender) for o in offers] == [
        ("line 5", "iPhone 15 128GB", "689", "EUR", "NEW SEALED", "Karim Mobiles"),
        ("line 6", "iPhone 15 Pro 128GB", "929", "EUR", "NEW SEALED", "Karim Mobiles"),
        ("line 10", "Pixel 8 Pro 128GB", "589 EUR", "", "open box", "Sofia"),
    ]
    assert offers[0].observed_at == datetime(2024, 3, 14, 9, 16, tzinfo=timezone.utc)
    assert dict(context.stats) == {
        "lines": 14, "headers_in_body": 0, "messages": 7, "system_messages": 1, "text_messages": 2,
        "media_omitted": 2, "deleted": 1, "polls": 1, "edited": 1, "offers_found": 3,
        "date_order": "day_first (over_12)", "chat_format": "whatsapp", "lines_not_offers": 1,
        "not_offers_sample": [{"ref": "line 7", "line": "Price for 15 Pro 256?", "reason": "a question"}],
    }


def test_process_options_day_first_and_timezone(tmp_path):
    path = write(tmp_path, "03/04/2024, 10:00 - A: iPhone 15 - $700\n")
    context = IngestContext(options={"day_first": "false", "timezone": "America/New_York"})
    offer = next(item for item in processor.process(path, context) if isinstance(item, OfferCandidate))
    assert offer.observed_at == datetime(2024, 3, 4, 10, 0, tzinfo=ZoneInfo("America/New_York"))
    assert context.stats["date_order"] == "month_first (option)"


@pytest.mark.parametrize(("options", "name"), [({"day_first": "maybe"}, "day_first"), ({"timezone": "Mars/Base"}, "timezone")])
def test_process_bad_option_raises_naming_it(tmp_path, options, name):
    with pytest.raises(ValueError, match=name):
        list(processor.process(write(tmp_path, CHAT), IngestContext(options=options)))


def test_process_default_timezone_is_context_then_settings(tmp_path, settings):
    path = write(tmp_path, "18/03/2022, 14:56 - A: iPhone 15 - $700\n")
    settings.TIME_ZONE = "Asia/Kolkata"
    offer = next(processor.process(path, IngestContext()))
    assert offer.observed_at.tzinfo == ZoneInfo("Asia/Kolkata")
    offer = next(processor.process(path, IngestContext(timezone=ZoneInfo("Europe/Paris"))))
    assert offer.observed_at.tzinfo == ZoneInfo("Europe/Paris")


def test_process_reports_progress(tmp_path):
    text = "".join(f"18/03/2022, 14:{n % 60:02d} - A: hi {n}\n" for n in range(4500))
    calls = []
    list(processor.process(write(tmp_path, text), IngestContext(timezone=timezone.utc, progress=lambda d, t: calls.append((d, t)))))
    assert calls == [(2000, 4500), (4000, 4500), (4500, 4500)]


def test_process_replaces_invalid_utf8_and_reports_the_line(tmp_path):
    path = tmp_path / "chat.txt"
    path.write_bytes(b"18/03/2022, 14:56 - A: caf\xe9\n18/03/2022, 14:57 - A: ok\n")
    errors = [item for item in processor.process(path, IngestContext(timezone=timezone.utc)) if isinstance(item, RowError)]
    assert [(e.ref, e.message) for e in errors] == [("line 1", "bytes that are not UTF-8 were replaced")]


def test_detect():
    assert processor.detect(Path("chat.txt"), CHAT.encode("utf-8")) == 80  # first line is no header
    assert processor.detect(Path("chat.txt"), CHAT.split("\n", 1)[1].encode("utf-8")) == 95
    assert processor.detect(Path("chat.txt"), b"18/03/2022, 14:56 - A: hi\nmore") == 60
    assert processor.detect(Path("list.txt"), b"sku,description,price\nA1,iPhone 15,750\n") == 0
    assert (processor.name, processor.extensions) == ("whatsapp_text", (".txt",))


# --------------------------------------------------------------------------- corpus


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.txt")), ids=lambda path: path.stem)
def test_corpus_message_kinds_and_date_order(path):
    expected = json.loads(path.with_name(f"{path.stem}.expected.json").read_text(encoding="utf-8"))
    context = IngestContext(timezone=timezone.utc)
    list(processor.process(path, context))
    assert {key: context.stats[key] for key in expected["stats"]} == expected["stats"]
    transcript = parse_transcript(path.read_bytes().decode("utf-8-sig"))
    assert transcript.day_first == expected["day_first"]
    assert transcript.orphan_lines == []


# --------------------------------------------------------------------------- issue 8: field cases and more header families

FIELD_CASES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "field-cases"
FORMATS = CORPUS / "formats"


def _answers():
    answers = json.loads((FIELD_CASES / "answers.json").read_text(encoding="utf-8"))
    return sorted((name, case["messages"]) for name, case in answers.items() if "messages" in case)


@pytest.mark.parametrize(("name", "expected"), _answers(), ids=lambda value: value if isinstance(value, str) else "")
def test_field_case_messages(name, expected):
    """Chat field cases 01, 03, 04, 06, 07, 15: exactly the right [time, author, kind] list;
    "text (edited)" in the answers means kind text with edited=True."""
    text = (FIELD_CASES / name).read_text(encoding="utf-8-sig")
    messages = parse_transcript(text).messages
    got = [
        [m.sent_at.strftime("%Y-%m-%dT%H:%M:%S" if len(want[0]) > 16 else "%Y-%m-%dT%H:%M"), m.author,
         f"{m.kind} (edited)" if m.edited else m.kind]
        for m, want in zip(messages, expected)
    ]
    assert got == expected
    assert len(messages) == len(expected)


# Each file is one export family; the expected messages are (time, author, kind, edited).
FORMAT_CASES = {
    "android_el_greek_ampm.txt": [  # Greek π.μ./μ.μ., plain space and U+202F
        ("2025-03-14T10:05:00", "Κινητά Νίκος", "text", False), ("2025-03-14T10:07:00", "Κινητά Νίκος", "media", False),
        ("2025-03-14T13:15:00", "Γιώργος", "text", False)],
    "ios_el_greek_ampm.txt": [
        ("2025-03-14T10:05:12", "Κινητά Νίκος", "text", False), ("2025-03-14T12:30:00", "Γιώργος", "text", False)],
    "android_ms_pg_ptg.txt": [  # Malay PG/PTG, Indonesian/Malay media and edited markers
        ("2025-03-14T09:41:00", "Kedai Ali", "text", False), ("2025-03-14T09:42:00", "Kedai Ali", "media", False),
        ("2025-03-14T14:05:00", "Aminah", "text", False), ("2025-03-14T14:06:00", "Kedai Ali", "text", True)],
    "android_fr_ca_h.txt": [  # Canadian French "10 h 05"
        ("2025-03-14T10:05:00", "Cellulaires Luc", "text", False), ("2025-03-14T10:06:00", "Cellulaires Luc", "media", False),
        ("2025-03-14T22:40:00", "Marie", "text", False)],
    "ios_fr_ca_h.txt": [  # "10 h 05 min 12 s"
        ("2025-03-14T10:05:12", "Cellulaires Luc", "text", False), ("2025-03-14T22:40:00", "Marie", "text", False)],
    "android_bg_year_suffix.txt": [  # Bulgarian "14.03.25 г.," (U+202F or space), "ч." after the time
        ("2025-03-14T10:05:00", "Мобилни Иван", "text", False), ("2025-03-14T10:06:00", "Мобилни Иван", "deleted", False),
        ("2025-03-14T22:40:00", "Петър", "text", False)],
    "android_fa_persian_digits.txt": [  # Persian digits, year first, Arabic comma + RLM, ب.ظ.
        ("2025-03-14T10:05:00", "Mobile Arash", "text", False), ("2025-03-14T10:07:00", "Mobile Arash", "media", False),
        ("2025-03-14T22:08:00", "Sina", "text", True)],
    "android_ar_arabic_indic.txt": [  # Arabic-Indic digits, RLM inside the date, ص/م
        ("2025-03-14T10:05:00", "جوالات أحمد", "text", False), ("2025-03-14T10:07:00", "جوالات أحمد", "media", False),
        ("2025-03-14T21:30:00", "سالم", "deleted", False), ("2025-03-14T21:31:00", "جوالات أحمد", "text", True)],
    "android_zh_fullwidth_digits.txt": [  # full-width digits
        ("2025-03-14T10:05:00", "华强数码", "text", False), ("2025-03-14T10:06:00", "华强数码", "media", False),
        ("2025-03-14T22:40:00", "小李", "text", False)],
    "ios_unicode_spaces.txt": [  # U+2009, U+00A0, U+202F wherever a space belongs
        ("2024-10-31T15:50:46", "深圳华强数码", "text", False), ("2024-10-31T15:51:02", "深圳华强数码", "text", False),
        ("2024-10-31T15:52:40", "小李", "text", False)],
    "android_ko_ampm_first.txt": [  # Korean yy. M. d., day period before the time (오전 / PM)
        ("2025-03-14T10:05:00", "폰마켓", "text", False), ("2025-03-14T22:40:00", "민수", "text", False)],
    "android_zh_hant_day_periods.txt": [  # zh-Hant flexible day periods 上午/中午/晚上
        ("2025-03-14T10:05:00", "通訊行", "text", False), ("2025-03-14T12:30:00", "通訊行", "deleted", False),
        ("2025-03-14T22:40:00", "阿明", "text", False)],
    "android_vi_time_first.txt": [  # Vietnamese Android: time before the date
        ("2025-03-14T10:05:00", "Điện Thoại Lan", "text", False), ("2025-03-14T22:40:00", "Minh", "text", False)],
    "ios_he_ampm.txt": [  # Hebrew לפנה״צ / אחה״צ
        ("2025-03-14T10:05:12", "סלולר דנה", "text", False), ("2025-03-14T20:46:00", "יוסי", "text", False)],
}


def test_every_format_fixture_has_a_case():
    assert sorted(path.name for path in FORMATS.glob("*.txt")) == sorted(FORMAT_CASES)


@pytest.mark.parametrize("name", sorted(FORMAT_CASES))
def test_format_fixture_messages(name):
    transcript = parse_transcript((FORMATS / name).read_text(encoding="utf-8"))
    got = [(m.sent_at.strftime("%Y-%m-%dT%H:%M:%S"), m.author, m.kind, m.edited) for m in transcript.messages]
    assert got == FORMAT_CASES[name]
    assert transcript.orphan_lines == [] and transcript.headers_in_body == 0


@pytest.mark.parametrize(
    ("line", "when"),
    [
        ("14/3/25, 10:05\u202fμ.μ. - Nikos: hi", datetime(2025, 3, 14, 22, 5)),  # Greek, CLDR el
        ("14/3/25, 10:05 πμ - Nikos: hi", datetime(2025, 3, 14, 10, 5)),  # Greek without dots
        ("14/03/2025, 9:41 ptg - Ali: hi", datetime(2025, 3, 14, 21, 41)),  # Malay, lower case
        ("2025-03-14 22 h 05 - Luc: hi", datetime(2025, 3, 14, 22, 5)),  # fr-CA
        ("2025-03-14, 9 h 05 - Luc: hi", datetime(2025, 3, 14, 9, 5)),
        ("14.03.2025\u202fг., 22:05 - Иван: hi", datetime(2025, 3, 14, 22, 5)),  # Bulgarian, 4-digit year
        ("14.03.25 г., 22:05 - Иван: hi", datetime(2025, 3, 14, 22, 5)),
        ("[14.03.2025\u202fг., 22:05:33] Иван: hi", datetime(2025, 3, 14, 22, 5, 33)),
        ("\u06f2\u06f0\u06f2\u06f5/\u06f3/\u06f1\u06f4\u060c \u06f1\u06f0:\u06f0\u06f5 - Mobile Arash: hi",
         datetime(2025, 3, 14, 10, 5)),  # the field case's header
        ("\u06f2\u06f0\u06f2\u06f5/\u06f3/\u06f1\u06f4\u060c\u200f \u06f1\u06f0:\u06f0\u06f5 \u0642.\u0638. - Sina: hi",
         datetime(2025, 3, 14, 10, 5)),  # ق.ظ. (AM)
        ("[\u0661\u0664/\u0660\u0663/\u0662\u0660\u0662\u0665\u060c \u0668:\u0664\u0666:\u0660\u0660 \u0645] دانة: hi",
         datetime(2025, 3, 14, 20, 46)),  # iOS Arabic-Indic, م (PM)
        ("\uff11\uff14.\uff10\uff13.\uff12\uff10\uff12\uff15, \uff11\uff10:\uff10\uff15 - X: hi", datetime(2025, 3, 14, 10, 5)),
        ("१४/३/२५, १०:०५ pm - Raj: hi", datetime(2025, 3, 14, 22, 5)),  # Devanagari digits
        ("[2024/10/31\u200915:50:46] 小李: hi", datetime(2024, 10, 31, 15, 50, 46)),  # field case 15
        ("[2024/10/31\u00a015:50:46]\u00a0小李: hi", datetime(2024, 10, 31, 15, 50, 46)),
        ("14/03/2025,\u200910:05\u2009-\u2009Ali: hi", datetime(2025, 3, 14, 10, 5)),
        ("14/3/25, 10:05\u3000PM - Ali: hi", datetime(2025, 3, 14, 22, 5)),
        ("14.3.25, 10:05\u202fm.d. - Ana: hi", datetime(2025, 3, 14, 22, 5)),  # Albanian
        ("2025. 03. 14. du. 10:05 - Péter: hi", datetime(2025, 3, 14, 22, 5)),  # Hungarian, period first
        ("14/3/25 10:05 ਬਾ.ਦੁ. - Singh: hi", datetime(2025, 3, 14, 22, 5)),  # Punjabi
        ("14/03/2025 22:05 - Ayşe: hi", datetime(2025, 3, 14, 22, 5)),
        ("14.03.2025 10:05 ÖS - Ayşe: hi", datetime(2025, 3, 14, 22, 5)),  # Turkish 12 h
        ("14/3/2025, 10:05\u202fp.m. - Juan: hi", datetime(2025, 3, 14, 22, 5)),  # es-US
        ("14/3/25, 12:05\u202fa.\u202fm. - Juan: hi", datetime(2025, 3, 14, 0, 5)),  # es with U+202F inside
        ("29.01.18, 12:10 mittags - Alice: Hallo", datetime(2018, 1, 29, 12, 10)),
        ("29.01.18, 1:10 mittags - Alice: Hallo", datetime(2018, 1, 29, 13, 10)),
        ("29.01.18, 11:24 nachts - Alice: Hallo", datetime(2018, 1, 29, 23, 24)),
        ("29.01.18, 2:24 nachts - Alice: Hallo", datetime(2018, 1, 29, 2, 24)),
        ("[22:05:33, 14/3/25] Lan: hi", datetime(2025, 3, 14, 22, 5, 33)),
    ],
)
def test_more_header_families(line, when):
    message = only(line)
    assert naive(message) == when
    assert message.body == "hi" or message.body == "Hallo"


def test_header_digits_are_read_but_bodies_keep_their_own():
    message = only("۲۰۲۵/۳/۱۴، ۱۰:۰۸ - Mobile Arash: آیفون ۱۵ ۱۲۸ گیگ - ۷۲۰ دلار")
    assert naive(message) == datetime(2025, 3, 14, 10, 8)
    assert message.body == "آیفون ۱۵ ۱۲۸ گیگ - ۷۲۰ دلار"


def test_day_period_words_fold_to_one_meaning():
    from ingestion.processors.whatsapp_text import _DAY_PERIODS, _fold_day_period

    meanings = {}
    for word, kind in _DAY_PERIODS.items():
        assert meanings.setdefault(_fold_day_period(word), kind) == kind, word


def test_price_lines_that_start_with_digits_stay_in_the_body():
    text = "14/3/25, 10:05 - Ali: list\n15 128 Black 53500\n12.5 h 13 - 750\n10 h 05 min - promo\n22:05 price 14/3/25 - x"
    message = only(text)
    assert message.body.splitlines()[1:] == text.splitlines()[1:]


def test_forced_whatsapp_on_a_telegram_desktop_copy_reads_it_as_telegram():
    context = IngestContext(filename="02-telegram-desktop-copy.txt", timezone=timezone.utc)
    items = list(processor.process(FIELD_CASES / "02-telegram-desktop-copy.txt", context))
    assert not [item for item in items if isinstance(item, RowError)]
    offers = [item for item in items if isinstance(item, OfferCandidate)]
    assert [(o.sender, o.observed_at.strftime("%H:%M")) for o in offers] == [("Gadget Hub Opt", "10:02")] * 2 + [
        ("Gadget Hub Opt", "10:03")] * 2
    assert [o.price for o in offers] == ["51500", "62500", "89600", "72700"]
    assert context.stats["chat_format"] == "telegram_desktop" and context.stats["messages"] == 2


@pytest.mark.parametrize(
    ("line", "when"),
    [
        ("[۱۴۰۳/۱۲/۲۴، ۱۰:۰۵:۰۰] Mobile Arash: hi", datetime(2025, 3, 14, 10, 5)),  # Persian iOS, Solar Hijri
        ("۱۴۰۴/۱/۱، ۲۲:۰۵ - Mobile Arash: hi", datetime(2025, 3, 21, 22, 5)),  # Nowruz 1404
        ("1399/12/30, 10:05 - Sina: hi", datetime(2021, 3, 20, 10, 5)),  # leap Esfand
        ("[\u0662\u0664\u200f/\u0669\u200f/\u0661\u0664\u0664\u0666 \u0647\u0640\u060c \u0661\u0660:\u0660\u0665:\u0660\u0660 \u0645] علي: hi",
         datetime(2025, 3, 24, 22, 5)),  # Arabic iOS, Islamic calendar with هـ
        ("1/9/1446, 10:05 - Ali: hi", datetime(2025, 3, 1, 10, 5)),  # 1 Ramadan 1446
    ],
)
def test_persian_and_islamic_calendar_years(line, when):
    message = only(line)
    assert naive(message) == when and message.body == "hi"


def test_other_calendar_dates_that_do_not_exist_are_body_text():
    transcript = parse_transcript("1403/12/24, 10:05 - A: list\n1403/13/01, 10:06 - B: hi")
    assert len(transcript.messages) == 1 and transcript.messages[0].body == "list\n1403/13/01, 10:06 - B: hi"
