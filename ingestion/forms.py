"""The admin's ingestion forms: upload a file, and correct and re-ingest a document.

Both check what the ingest would otherwise find out too late: the processor
that reads the file (chosen, or detected from its content), that a vendor is
given when that processor needs one, the currency, and the processor options.
"""

from __future__ import annotations

import copy

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.forms.utils import ErrorDict

from documents import storage
from documents.models import SourceDocument
from ingestion import intake, processors, services, uploads
from ingestion.normalize import iso_currency_code
from offers.models import Vendor
from offers.vendors import vendor_by_name

# Processors whose offers carry their sender: a run without a vendor gives each
# sender a provisional vendor. A processor may also declare it itself with a
# ``senders_become_vendors = True`` attribute.
SENDERS_BECOME_VENDORS = frozenset({"whatsapp_text", "telegram"})


def parse_option_lines(text: str) -> dict[str, str]:
    """``key=value`` pairs, one a line (or comma-separated); a malformed pair is a ValidationError."""
    options = {}
    for part in text.replace(",", "\n").splitlines():
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise forms.ValidationError(f"{part!r} is not key=value")
        options[key.strip()] = value.strip()
    return options


def format_option_lines(options: dict[str, str]) -> str:
    """The inverse of ``parse_option_lines``: ``key=value``, one a line."""
    return "\n".join(f"{key}={value}" for key, value in options.items())


def senders_become_vendors(processor_name: str) -> bool:
    """Whether the processor's offers name their sender, so that a run may go without a vendor
    (each sender becomes a provisional vendor). Spreadsheets do not: they need a vendor."""
    if processor_name in SENDERS_BECOME_VENDORS:
        return True
    try:
        processor = processors.get(processor_name)
    except processors.UnknownProcessor:
        return False
    return bool(getattr(processor, "senders_become_vendors", False))


def read_upload_head(upload: UploadedFile) -> bytes:
    """The first ``processors.HEAD_BYTES`` bytes of an uploaded file (left at its start)."""
    head = upload.read(processors.HEAD_BYTES)
    upload.seek(0)
    return head


def detect_stored_processor(document: SourceDocument) -> str:
    """The name of the processor detected for a document's stored file; ``""`` when none reads
    it or the file is not in storage."""
    try:
        return processors.detect(storage.resolve(document.stored_path)).name
    except (processors.UnknownProcessor, storage.StorageError, OSError):
        return ""


def stored_file_exists(document: SourceDocument) -> bool:
    """Whether the document's stored copy is still in storage (a re-ingest reads it)."""
    try:
        return storage.resolve(document.stored_path).is_file()
    except storage.StorageError:
        return False


class IngestSettingsForm(forms.Form):
    """Vendor, processor, currency and options of an ingest, checked together in ``clean``.

    Subclasses say why their file cannot be ingested at all (``refusal``), which
    processor ``detect`` stands for (``detected_processor``) and what the file is
    called in messages (``file_label``). Options are checked by the processor
    registry (``processors.validate_options``), as the command line checks them.
    """

    vendor = forms.ModelChoiceField(
        Vendor.objects.order_by("name"), required=False,
        help_text="Needed for spreadsheets. A chat (WhatsApp or Telegram) may go without: each sender "
                  "becomes a provisional vendor.",
    )
    new_vendor = forms.CharField(required=False, max_length=200, help_text="Or the name of a new vendor.")
    processor = forms.ChoiceField(required=False, help_text="Leave on 'detect' unless detection picks wrongly.")
    currency = forms.CharField(required=False, max_length=10, help_text="For prices that name no currency, e.g. EUR.")
    options = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["processor"].choices = [("", "detect")] + [(n, n) for n in processors.names()]
        self.fields["options"].help_text = f"key=value, one a line. {processors.describe_options()}."

    def refusal(self, processor: str) -> str:
        """Why the file cannot be ingested whatever the settings (empty, say), or ``""``."""
        return ""

    def detected_processor(self) -> str:
        """The processor that reads the file when none is chosen; ``""`` when none does."""
        raise NotImplementedError

    def file_label(self) -> str:
        """The file's name as the operator knows it."""
        raise NotImplementedError

    def clean_currency(self):
        code = self.cleaned_data["currency"].strip()
        if code and not iso_currency_code(code):
            raise forms.ValidationError(f"{code!r} is not an ISO 4217 currency code (EUR, USD, INR ...)")
        return iso_currency_code(code) if code else ""

    def clean_options(self):
        return parse_option_lines(self.cleaned_data["options"])

    def clean(self):
        data = super().clean()
        vendor, new_vendor = data.get("vendor"), (data.get("new_vendor") or "").strip()
        if vendor and new_vendor:
            raise forms.ValidationError("choose a vendor or name a new one, not both")
        data["vendor_name"] = vendor.name if vendor else new_vendor
        if self.has_error("file") or self.has_error("processor"):
            return data
        reason = self.refusal(data.get("processor", ""))
        if reason:
            self.add_error("file" if "file" in self.fields else None, reason)
            return data
        name = data.get("processor") or self.detected_processor()
        if not name:
            self.add_error(
                "processor",
                f"{processors.not_supported_message(self.file_label())}: choose the processor if it is one of "
                "these",
            )
            return data
        data["processor"] = name
        if not data["vendor_name"] and not senders_become_vendors(name):
            self.add_error(
                "vendor",
                f"{self.file_label()} is read by the {name} processor, which needs a vendor: choose one or name "
                "a new vendor (only chat transcripts can go without, their senders becoming provisional vendors)",
            )
        if "options" in data:
            try:
                data["options"] = processors.validate_options(name, data["options"])
            except ValueError as exc:
                self.add_error("options", str(exc))
        return data


class UploadForm(IngestSettingsForm):
    """An operator's upload: the file and how to ingest it.

    ``size_limit`` is the request's ``uploads.SizeLimitUploadHandler`` (``install_size_limit``):
    when it stopped the file at the limit, the form's one error is on the file, saying so
    (not "This field is required", nor errors about the fields the stopped body never sent).
    """

    file = forms.FileField(
        help_text="Spreadsheet (.xlsx, .xlsm, .xls, .ods, .csv), WhatsApp transcript (.txt), Telegram chat (.txt copy, "
                  "result.json), PDF or image (.pdf, .png, .jpg, .webp, .tif: read by OCR where there is no text)."
    )
    force = forms.BooleanField(
        required=False, label="Ingest again",
        help_text="Ingest the file even when the same content was already ingested with the same vendor and "
                  "settings (a new snapshot of the same offers).",
    )
    field_order = ["file", "vendor", "new_vendor", "processor", "currency", "options", "force"]

    def __init__(self, *args, size_limit: uploads.SizeLimitUploadHandler | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.size_limit = size_limit

    def full_clean(self):
        super().full_clean()
        if self.size_limit is not None and self.size_limit.exceeded and self.is_bound:
            self._errors = ErrorDict()  # the fields after the file were never read
            self.cleaned_data = {}
            self.add_error("file", self.size_limit.message)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.INGESTION_MAX_FILE_BYTES:
            raise forms.ValidationError(uploads.too_large_message(settings.INGESTION_MAX_FILE_BYTES, upload.name))
        return upload

    def refusal(self, processor: str) -> str:
        upload = self.cleaned_data["file"]
        head = read_upload_head(upload)
        if not processor:  # clean() detects one itself, naming the file
            return intake.emptiness(head)
        return intake.refusal(head, upload.name, processor=processor)

    def detected_processor(self) -> str:
        upload = self.cleaned_data["file"]
        return processors.detect_name(upload.name or "", read_upload_head(upload))

    def file_label(self) -> str:
        return self.cleaned_data["file"].name


class CorrectionForm(IngestSettingsForm):
    """A document's vendor, processor, currency and options, corrected for a re-ingest.

    The form starts from the document's values. ``reingest()`` makes the new
    pending snapshot with the corrected values; the document itself stays the
    record of what was tried.
    """

    def __init__(self, *args, document: SourceDocument, **kwargs):
        self.document = document
        kwargs.setdefault("initial", {
            "vendor": document.vendor_id,
            "processor": document.processor,
            "currency": document.options.get("currency", ""),
            "options": format_option_lines(document.options.get("options", {})),
        })
        super().__init__(*args, **kwargs)

    def clean(self):
        if not stored_file_exists(self.document):
            raise forms.ValidationError(
                f"the stored copy of {self.document.original_filename} is missing from storage: upload the file again"
            )
        return super().clean()

    def detected_processor(self) -> str:
        return detect_stored_processor(self.document)

    def file_label(self) -> str:
        return self.document.original_filename

    def reingest(self) -> SourceDocument:
        """A new pending snapshot of the document with the corrected values (``services.reingest``,
        as the re-ingest action makes one). Call after ``is_valid()``; the caller enqueues it."""
        data = self.cleaned_data
        corrected = copy.copy(self.document)  # the document's row is not changed
        corrected.vendor = vendor_by_name(data["vendor_name"]) if data["vendor_name"] else None
        corrected.processor = data["processor"]
        corrected.options = {**self.document.options, "currency": data["currency"], "options": data["options"]}
        return services.reingest(corrected)
