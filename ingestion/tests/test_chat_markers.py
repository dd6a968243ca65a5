"""ingestion.chat_markers: one definition of each chat marker, in many languages."""

import re

import pytest

from ingestion.chat_markers import (
    DELETED, EDITED_SUFFIX, INVISIBLE, INVISIBLE_CHARS, INVISIBLE_OR_BACKTICK, MEDIA_OMITTED, is_deleted,
    is_media_placeholder, split_edited, strip_edited, strip_invisible,
)
from ingestion.processors.whatsapp_text import parse_transcript

EDITED_MARKERS = [
    "<This message was edited>", "\u200e<This message was edited>", "<Diese Nachricht wurde bearbeitet>",
    "<Se editó este mensaje.>", "<Mensagem editada>", "<Ce message a été modifié>",
    "<Questo messaggio è stato modificato>", "<Pesan ini telah diedit>", "<Mesej ini telah disunting>",
    "<Bu mesaj düzenlendi>", "<Сообщение изменено>", "<Это сообщение было отредактировано>",
    "<تم تعديل هذه الرسالة>", "<این پیام ویرایش شد>", "<यह मैसेज एडिट किया गया था>", "<यह संदेश संपादित किया गया>",
    "<已编辑此消息>", "<此訊息已編輯>", "<このメッセージは編集されました>", "<수정된 메시지입니다>",
    "<Dit bericht is bewerkt>", "<Ta wiadomość została edytowana>", "<Це повідомлення відредаговано>",
    "<Tin nhắn này đã được chỉnh sửa>", "<ข้อความนี้ถูกแก้ไข>", "<ההודעה נערכה>",
]


@pytest.mark.parametrize("marker", EDITED_MARKERS)
def test_edited_marker_at_the_end_is_removed(marker):
    line = f"iPhone 15 128GB - 54.999 TL {marker}"
    assert split_edited(line) == ("iPhone 15 128GB - 54.999 TL", True)
    assert EDITED_SUFFIX.sub("", line) == strip_edited(line) == "iPhone 15 128GB - 54.999 TL"
    assert split_edited(f"first line\nsecond - 750 {marker} \u200e") == ("first line\nsecond - 750", True)


@pytest.mark.parametrize("line", [
    "iPhone 15 <new> - 750", "Pixel 8 - 600 <sealed>", "a <b>", "<This message was edited> and more",
    "price 750 <edit", "iPhone <edited> 750",
])
def test_not_an_edited_marker(line):
    assert split_edited(line) == (line, False)
    assert EDITED_SUFFIX.sub("", line) == strip_edited(line) == line


@pytest.mark.parametrize("body", [
    "This message was deleted", "\u200eThis message was deleted.", "You deleted this message",
    "Pesan ini telah dihapus", "Bu mesaj silindi", "Bu mesajı sildiniz", "Данное сообщение удалено",
    "تم حذف هذه الرسالة", "\u200fتم حذف هذه الرسالة", "این پیام حذف شد", "यह मैसेज डिलीट कर दिया गया था",
    "此消息已删除", "此訊息已刪除", "このメッセージは削除されました", "Questo messaggio è stato eliminato",
    "Esta mensagem foi apagada", "Ta wiadomość została usunięta",
])
def test_deleted_markers(body):
    assert is_deleted(body)


@pytest.mark.parametrize("line", [
    "<Media omitted>", "<Media tidak disertakan>", "<Medya dahil edilmedi>", "<رسانه حذف شد>",
    "<تم استبعاد الوسائط>", "\u200f<تم استبعاد الوسائط>", "<Без медиафайлов>", "<Mídia oculta>", "<Media omessi>",
    "<मीडिया के बिना>", "<省略多媒体文件>", "<忽略多媒體檔>", "<メディアは含まれていません>", "<Médias omis>",
    "<Multimedia omitido>", "<Medien ausgeschlossen>", "<media tidak disertakan>", "null",
    "\u200eimage omitted", "<\u200eimage omitted>", "gambar tidak disertakan", "görüntü dahil edilmedi",
    "изображение отсутствует", "Bild weggelassen", "imagem ocultada",
    "\u200e<attached: 00000035-PHOTO-2022-03-27-21-41-55.jpg>", "IMG-20210428-WA0001.jpg (file attached)",
    "IMG-20250314-WA0001.jpg (file terlampir)", "IMG-20250314-WA0001.jpg (dosya ekli)",
    "IMG-20250314-WA0001.jpg (الملف مرفق)",
])
def test_media_placeholders(line):
    assert is_media_placeholder(line)


@pytest.mark.parametrize("line", ["iPhone 15 (new)", "Galaxy S24 <sealed>", "price omitted today? 750", "hello"])
def test_not_media_placeholders(line):
    assert not is_media_placeholder(line)


def test_invisible_marks_cover_what_the_offer_extractor_strips():
    """text_offers strips these (its own _MARKS until it imports INVISIBLE_OR_BACKTICK)."""
    for char in "\u200b\u200c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\ufeff":
        assert char in INVISIBLE_CHARS and INVISIBLE.fullmatch(char)
    assert INVISIBLE_OR_BACKTICK.sub("", "`\u200eiPhone\u2068 15`\u061c") == "iPhone 15"
    assert INVISIBLE.sub("", "`x`") == "`x`"
    assert strip_invisible(" \u200e<Media omitted>\u202c ") == "<Media omitted>"


def test_marker_sets_hold_android_and_ios_forms():
    assert {"<Media omitted>", "\u200e<Media omitted>"} <= MEDIA_OMITTED
    assert {"This message was deleted", "\u200eThis message was deleted."} <= DELETED
    assert all(isinstance(re.escape(text), str) for text in DELETED)


@pytest.mark.parametrize(
    ("body", "kind", "edited"),
    [
        ("<Media tidak disertakan>", "media", False),
        ("<Medya dahil edilmedi>", "media", False),
        ("<رسانه حذف شد>", "media", False),
        ("\u200f<تم استبعاد الوسائط>", "media", False),
        ("<Без медиафайлов>", "media", False),
        ("Pesan ini telah dihapus", "deleted", False),
        ("تم حذف هذه الرسالة", "deleted", False),
        ("iPhone 15 - 750 <Pesan ini telah diedit>", "text", True),
        ("iPhone 15 - 750 <Bu mesaj düzenlendi>", "text", True),
        ("iPhone 15 - 750 <این پیام ویرایش شد>", "text", True),
    ],
)
def test_the_parser_uses_the_markers(body, kind, edited):
    (message,) = parse_transcript(f"14/03/2025, 12:05 - Mert GSM: {body}").messages
    assert (message.kind, message.edited) == (kind, edited)
    if edited:
        assert message.body == "iPhone 15 - 750"
