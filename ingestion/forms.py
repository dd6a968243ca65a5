from django import forms
from django.conf import settings

from ingestion import processors
from ingestion.normalize import parse_currency
from offers.models import Vendor


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


class UploadForm(forms.Form):
    file = forms.FileField(help_text="Spreadsheet (.xlsx, .xls, .ods, .csv) or WhatsApp transcript (.txt).")
    vendor = forms.ModelChoiceField(Vendor.objects.all(), required=False)
    new_vendor = forms.CharField(required=False, max_length=200, help_text="Or the name of a new vendor.")
    processor = forms.ChoiceField(required=False, help_text="Leave on 'detect' unless detection picks wrongly.")
    currency = forms.CharField(required=False, max_length=10, help_text="For prices that name no currency, e.g. EUR.")
    options = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="key=value, one a line (e.g. prefer_llm=true)."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["processor"].choices = [("", "detect")] + [(n, n) for n in processors.names()]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.INGESTION_MAX_FILE_BYTES:
            raise forms.ValidationError(f"the file is larger than {settings.INGESTION_MAX_FILE_BYTES:,} bytes")
        return upload

    def clean_currency(self):
        code = self.cleaned_data["currency"].strip()
        if code and not parse_currency(code):
            raise forms.ValidationError(f"{code!r} is not a known currency")
        return parse_currency(code) if code else ""

    def clean_options(self):
        return parse_option_lines(self.cleaned_data["options"])

    def clean(self):
        data = super().clean()
        vendor, new_vendor = data.get("vendor"), (data.get("new_vendor") or "").strip()
        if vendor and new_vendor:
            raise forms.ValidationError("choose a vendor or name a new one, not both")
        data["vendor_name"] = vendor.name if vendor else new_vendor
        return data
