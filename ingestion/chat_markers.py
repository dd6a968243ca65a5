"""What chat apps write in place of a message, and the invisible marks around it: one definition each.

Shared by the chat parsers (``ingestion.processors.whatsapp_text``,
``ingestion.processors.telegram``) and the text offer extractor
(``ingestion.text_offers``), so that a marker the parser knows is also one the
extractor strips, in every language. No Django imports.

Invisible marks
    ``INVISIBLE_CHARS`` are the characters exports put around names, dates and
    placeholders that carry no text: zero-width space and non-joiner (U+200B,
    U+200C), LRM/RLM (U+200E, U+200F), the bidi embeddings and overrides
    (U+202A-U+202E), the Arabic letter mark (U+061C), word joiner (U+2060), the
    bidi isolates (U+2066-U+2069) and the BOM (U+FEFF). ``INVISIBLE`` matches
    one of them; ``INVISIBLE_OR_BACKTICK`` adds the backtick of WhatsApp's
    monospace markup (what the offer extractor removes from each line);
    ``strip_invisible(text)`` removes them and the outer whitespace.
    ``BIDI_MARKS`` is the subset that may sit inside a header or an author
    name (LRM, RLM, ALM, embeddings, isolates): the zero-width non-joiner is
    part of Persian spelling and stays in names.

Edited
    Android appends `` <This message was edited>`` (localised) to the last line
    of an edited message. ``EDITED_SUFFIX`` matches such a marker with the
    spaces and marks before it at the end of a line or text
    (``EDITED_SUFFIX.sub("", line)`` strips it); ``split_edited(text)`` returns
    ``(text without it, True)`` or ``(text, False)``, and ``strip_edited(line)``
    the text alone: the same result about 20 times faster than the regex (no
    case-insensitive scan of every word), for whole bodies and lines alike. The marker is recognised by the localised word for
    "edited" inside angle brackets, so variants of the sentence around it
    (``<Pesan ini telah diedit>``, ``<Bu mesaj düzenlendi>``, ``<Сообщение
    изменено>``, ``<تم تعديل هذه الرسالة>``, ``<این پیام ویرایش شد>``,
    ``<यह मैसेज एडिट किया गया था>``, ``<已编辑此消息>`` ...) all match.

Deleted
    ``DELETED`` is the set of whole-message bodies WhatsApp writes for a
    deleted message ("This message was deleted" / "You deleted this message"
    in about 30 languages), each with and without a leading LRM and a final
    period (Android writes none, iOS both). ``is_deleted(body)`` also accepts
    them with other invisible marks around.

Media omitted
    ``MEDIA_OMITTED`` is the set of Android's one-per-message placeholders
    (``<Media omitted>`` and its translations, the view-once ``null``);
    ``is_media_placeholder(line)`` also knows iOS's one-per-type forms
    (``image omitted``, ``gambar tidak disertakan``, ``görüntü dahil
    edilmedi``, ``изображение отсутствует`` ...), old iOS ``<image omitted>``
    and attachments (``<attached: 0001-PHOTO.jpg>``, ``IMG-1.jpg (file
    attached)`` and their translations).

Sources: the WhatsApp reference notes (``whatsapp-export-formats.md``, §3.3-3.5,
which cite whats_json's ``patterns.dart`` lists taken from WhatsApp's own
``strings.xml``/``Localizable.strings``, WhatsR's ``Languages.csv`` and public
parsers' fixtures); the field cases (``<Bu mesaj düzenlendi>``,
``<Medya dahil edilmedi>``, ``<رسانه حذف شد>``); public parsers' placeholder
tables found by code search (Indonesian ``<Media tidak disertakan>``, Arabic
``<تم استبعاد الوسائط>``, Hebrew, Korean, Japanese, Chinese, Nordic and Slavic
forms). Where a language's exact sentence could not be confirmed, the forms
seen in more than one place are listed; ``EDITED_SUFFIX`` goes by the word
for "edited" so that it needs no exact sentence.
"""

from __future__ import annotations

import re

__all__ = [
    "BIDI_MARKS", "DELETED", "EDITED_SUFFIX", "INVISIBLE", "INVISIBLE_CHARS", "INVISIBLE_OR_BACKTICK",
    "MEDIA_LAST_WORDS", "MEDIA_OMITTED", "is_deleted", "is_media_placeholder", "marker_variants", "split_edited",
    "strip_edited", "strip_invisible",
]

# --------------------------------------------------------------------------- invisible marks

BIDI_MARKS = "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
INVISIBLE_CHARS = "\u200b\u200c\u2060\ufeff" + BIDI_MARKS
INVISIBLE = re.compile(f"[{INVISIBLE_CHARS}]")
INVISIBLE_OR_BACKTICK = re.compile(f"[{INVISIBLE_CHARS}`]")


def strip_invisible(text: str) -> str:
    """``text`` without the characters of ``INVISIBLE_CHARS`` and without outer whitespace."""
    return INVISIBLE.sub("", text).strip()


# --------------------------------------------------------------------------- edited

# The word for "edited" in WhatsApp's languages; the marker is "<...word...>".
_EDITED_WORDS = (
    "edited", "edit", "bearbeitet", "editó", "editado", "editada", "editat", "modifié", "modificato",
    "modificado", "diedit", "disunting", "düzenlendi", "изменено", "изменён", "отредактировано",
    "змінено", "відредаговано", "редактирано", "تعديل", "تم تعديل", "عُدلت", "ویرایش", "ترمیم",
    "संपादित", "एडिट", "编辑", "編輯", "編集", "수정", "bewerkt", "edytowan", "upraven", "szerkeszt",
    "muokattu", "redigerad", "redigeret", "redigert", "επεξεργασ", "chỉnh sửa", "แก้ไข", "נערכ",
    "এডিট", "সম্পাদিত", "ulihaririwa", "imehaririwa", "urejeno", "uređen", "уређен", "redaguot",
    "rediģēt", "muudetud", "módosít",
)
_EDITED_BODY = "(?:" + "|".join(re.escape(word) for word in sorted(_EDITED_WORDS, key=len, reverse=True)) + ")"
EDITED_SUFFIX = re.compile(
    rf"(?:[^\S\n]|[{INVISIBLE_CHARS}])*<[{INVISIBLE_CHARS}]*[^<>\n]{{0,60}}?{_EDITED_BODY}[^<>\n]{{0,40}}>"
    rf"(?:[^\S\n]|[{INVISIBLE_CHARS}])*$",
    re.IGNORECASE,
)
# split_edited's test of the "<...>" it found (casefolded): one of the words anywhere inside. Without
# IGNORECASE the engine skips ahead on the words' first characters: ~1 µs instead of ~20 µs a marker.
_EDITED_WORD = re.compile("|".join(re.escape(word.casefold()) for word in sorted(_EDITED_WORDS, key=len, reverse=True)))
_EDITED_EN = "<This message was edited>"
_SPACE_OR_MARK = frozenset(" \t\u00a0\u202f\u2009" + INVISIBLE_CHARS)


def split_edited(text: str) -> tuple[str, bool]:
    """``(text without a trailing edited marker, True)``, or ``(text, False)`` when it has none.

    The spaces and invisible marks before the marker go with it. Cheap when the
    text does not end with ``>`` (the common case).
    """
    end = len(text)
    while end and text[end - 1] in _SPACE_OR_MARK:
        end -= 1
    if not end or text[end - 1] != ">":
        return text, False
    start = text.rfind("<", 0, end)
    if start < 0 or end - start > 110:
        return text, False
    marker = text[start:end]
    if marker != _EDITED_EN and ("\n" in marker or _EDITED_WORD.search(marker.casefold()) is None):
        return text, False
    while start and text[start - 1] in _SPACE_OR_MARK:
        start -= 1
    return text[:start], True


def strip_edited(line: str) -> str:
    """``line`` without a trailing edited marker (``split_edited(line)[0]``): what the offer extractor needs."""
    return split_edited(line)[0]


# --------------------------------------------------------------------------- deleted


def marker_variants(*texts: str) -> frozenset[str]:
    """The texts as Android and iOS write them: plain or LRM-prefixed, with or without a final period."""
    return frozenset(f"{mark}{text}{end}" for text in texts for mark in ("", "\u200e") for end in ("", "."))


DELETED = marker_variants(
    # English, German, Spanish, Portuguese, French, Italian, Dutch
    "This message was deleted", "You deleted this message", "Message deleted",
    "Diese Nachricht wurde gelöscht", "Du hast diese Nachricht gelöscht",
    "Se eliminó este mensaje", "Eliminaste este mensaje", "Este mensaje fue eliminado",
    "Mensagem apagada", "Esta mensagem foi apagada", "Você apagou esta mensagem", "Apagaste esta mensagem",
    "Ce message a été supprimé", "Vous avez supprimé ce message",
    "Questo messaggio è stato eliminato", "Hai eliminato questo messaggio",
    "Dit bericht is verwijderd", "Je hebt dit bericht verwijderd",
    # Indonesian, Malay, Turkish
    "Pesan ini telah dihapus", "Anda menghapus pesan ini",
    "Mesej ini telah dipadam", "Anda memadam mesej ini",
    "Bu mesaj silindi", "Bu mesajı sildiniz",
    # Russian, Ukrainian, Bulgarian, Polish, Czech
    "Данное сообщение удалено", "Вы удалили данное сообщение", "Это сообщение удалено", "Вы удалили это сообщение",
    "Це повідомлення видалено", "Ви видалили це повідомлення",
    "Това съобщение е изтрито", "Изтрихте това съобщение",
    "Ta wiadomość została usunięta", "Usunięto tę wiadomość", "Ta wiadomość została usunięta przez Ciebie",
    "Tato zpráva byla smazána", "Smazali jste tuto zprávu",
    # Arabic, Persian, Urdu, Hebrew
    "تم حذف هذه الرسالة", "لقد حذفت هذه الرسالة", "حذفت هذه الرسالة",
    "این پیام حذف شد", "شما این پیام را حذف کردید",
    "یہ پیغام حذف کر دیا گیا", "آپ نے یہ پیغام حذف کر دیا",
    "הודעה זו נמחקה", "מחקת את ההודעה הזו",
    # Hindi, Bengali
    "यह मैसेज डिलीट कर दिया गया था", "आपने यह मैसेज डिलीट किया", "यह संदेश हटा दिया गया", "आपने यह संदेश हटा दिया",
    "এই মেসেজটি মুছে ফেলা হয়েছে", "আপনি এই মেসেজটি মুছে ফেলেছেন",
    # Chinese, Japanese, Korean, Vietnamese, Thai
    "此消息已删除", "你删除了此消息", "此訊息已刪除", "你已刪除此訊息", "你刪除了此訊息",
    "このメッセージは削除されました", "メッセージを削除しました",
    "삭제된 메시지입니다", "메시지를 삭제했습니다",
    "Tin nhắn này đã bị xóa", "Bạn đã xóa tin nhắn này", "Tin nhắn này đã bị thu hồi",
    "ข้อความนี้ถูกลบ", "คุณลบข้อความนี้",
    # Greek, Romanian, Hungarian, Swedish, Swahili
    "Αυτό το μήνυμα διαγράφηκε", "Διαγράψατε αυτό το μήνυμα",
    "Acest mesaj a fost șters", "Ai șters acest mesaj",
    "Ezt az üzenetet törölték", "Törölted ezt az üzenetet",
    "Det här meddelandet raderades", "Du raderade det här meddelandet",
    "Ujumbe huu ulifutwa", "Umefuta ujumbe huu",
)


def is_deleted(body: str) -> bool:
    """True when the whole ``body`` is a deleted-message marker (invisible marks around it allowed)."""
    if body in DELETED:
        return True
    return not body.isascii() and strip_invisible(body) in DELETED


# --------------------------------------------------------------------------- media omitted

MEDIA_OMITTED = marker_variants(
    "<Media omitted>", "<Video note omitted>", "<Video message omitted>", "null", "live location shared",
    "<Médias omis>", "<Fichier omis>", "<Multimedia omitido>", "<Multimedia omitida>",
    "<Arquivo de mídia oculto>", "<Mídia oculta>", "<Mídia omitida>", "<Ficheiro não revelado>",
    "<ficheiro não revelado>", "<Multimédia omitido>",
    "<Medien ausgeschlossen>", "<Medien weggelassen>", "<Media weggelaten>",
    "<Media omessi>", "<Media omesso>",
    "<Média vynechány>", "<Médiá vynechané>", "<Без медиафайлов>", "<без медиафайлов>", "<Файл пропущен>",
    "<Медіа пропущено>", "<медіа пропущено>", "<Без медийни файлове>", "<Без файл>",
    "<pominięto multimedia>", "<Pominięto multimedia>", "<Multimedia pominięte>",
    "<Medya dahil edilmedi>", "<Medya çıkarıldı>", "<Medya atlanmış>",
    "<Media tidak disertakan>", "<Media tidak dimasukkan>", "<Media ditinggalkan>",
    "<تم استبعاد الوسائط>", "<الوسائط محذوفة>", "<رسانه حذف شد>", "<رسانه حذف شده>", "<بدون رسانه>",
    "<میڈیا چھوڑ دیا گیا>", "<המדיה לא נכללה>", "<מדיה הושמטה>",
    "<मीडिया के बिना>", "<मीडिया छोड़ दिया गया>", "<মিডিয়া বাদ দেওয়া হয়েছে>",
    "<省略多媒体文件>", "<忽略多媒體檔>", "<省略多媒體檔案>", "<媒体省略>", "<媒体文件已省略>",
    "<メディアは含まれていません>", "<メディアなし>", "<미디어 파일 제외됨>", "<미디어 파일을 생략한 대화내용>",
    "<Bỏ qua Media>", "<bỏ qua tệp phương tiện>", "<ไฟล์สื่อถูกลบ>", "<สื่อถูกลบ>",
    "<Εξαίρεση πολυμέσων>", "<αρχείο παραλήφθηκε>", "<conținut media omis>", "<Media omise>",
    "<Hiányzó médiafájl>", "<média elhagyva>", "<Media har utelämnats>", "<media utelämnat>",
    "<Media utelatt>", "<Uten vedlegg>", "<Medier udeladt>", "<Mediefil udeladt>",
    "<Media jätetty pois>", "<media jätettiin pois>", "<Medijski zapis izostavljen>", "<медији су изостављени>",
    "<Media haijajumuishwa>",
)
_MEDIA_OMITTED_FOLDED = frozenset(text.casefold() for text in MEDIA_OMITTED)

# iOS one-per-type placeholders ("image omitted"; old iOS "<image omitted>") and attachments.
_MEDIA = re.compile(
    r"<?(?:image|video|audio|sticker|GIF|Contact card|document|.+ document) omitted>?"
    r"|(?:Bild|Video|Audio|Sticker|GIF|Dokument) weggelassen|Kontaktkarte ausgelassen"
    r"|(?:image|vidéo|video) absente|audio omis|autocollant omis|Fiche contact manquante"
    r"|(?:imagen|audio|sticker) omitid[ao]|Video omitido|immagine omessa|(?:video|audio) omesso"
    r"|imagem não revelada|(?:vídeo|áudio) não revelado|(?:imagem|vídeo|áudio|figurinha) ocultad[ao]"
    r"|obrázek vynechán"
    r"|<?(?:gambar|video|audio|stiker|GIF|dokumen|kartu kontak) tidak disertakan>?"
    r"|<?(?:görüntü|video|ses|çıkartma|GIF|belge|doküman|kişi kartı) dahil edilmedi>?"
    r"|<?(?:изображение|видео|аудио|стикер|GIF|документ|контакт) отсутствует>?"
    r"|<?تم استبعاد (?:الصورة|الفيديو|الصوت|الملصق|المستند|جهة الاتصال|الوسائط)>?"
    r"|<?(?:تصویر|ویدیو|صدا|استیکر|سند) حذف شد>?"
    r"|画像は含まれていません|動画は含まれていません|图片已省略|圖片已略去"
    r"|(?:.* )?<(?:attached|anexado|pièce jointe|Anhang|angehängt|adjunto|allegato|terlampir"
    r"|eklendi|вложение|مرفق) ?: [^<>]+>"
    r"|.+ <attached>"
    r"|.+ \((?:file attached|Datei angehängt|archivo adjunto|fichier joint|soubor byl přiložen"
    r"|arquivo anexado|ficheiro anexado|file allegato|file terlampir|dosya ekli|dosya eklendi"
    r"|файл прикреплён|файл прикреплен|الملف مرفق|فایل پیوست شد|फ़ाइल अटैच की गई|bestand bijgevoegd"
    r"|plik załączony|文件已附上)\)",
    re.IGNORECASE,
)
# The last words of the placeholders above: the regex runs only on lines that end with one (or ">" / ")");
# a caller may test that itself before calling is_media_placeholder, as whatsapp_text does for speed.
MEDIA_LAST_WORDS = frozenset({
    "omitted", "weggelassen", "ausgelassen", "absente", "omis", "manquante", "omitida", "omitido",
    "omessa", "omesso", "revelada", "revelado", "ocultada", "ocultado", "vynechán", "disertakan", "edilmedi",
    "отсутствует", "画像は含まれていません", "動画は含まれていません", "图片已省略", "圖片已略去",
    "الصورة", "الفيديو", "الصوت", "الملصق", "المستند", "الاتصال", "الوسائط", "شد",
})


def is_media_placeholder(line: str) -> bool:
    """True when ``line`` (a message's first line) is a media placeholder or an attachment.

    Marks (LRM, embeddings ...) around or inside the placeholder are ignored;
    a caption, if any, is on the lines after it.
    """
    if line in MEDIA_OMITTED:
        return True
    if not (line.endswith((">", ")")) or line.rpartition(" ")[2] in MEDIA_LAST_WORDS):
        return False
    clean = strip_invisible(line)
    return clean.casefold() in _MEDIA_OMITTED_FOLDED or _MEDIA.fullmatch(clean) is not None
