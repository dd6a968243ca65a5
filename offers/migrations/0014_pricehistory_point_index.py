# The series index gains currency and price, so that the ingest's probe for a point already in a
# series is one index seek. The new index is built before the old one is dropped: reads of a
# running system always have one.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('documents', '0003_lease_and_visibility'),
        ('offers', '0013_alias_confirmed'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='pricehistory',
            index=models.Index(fields=['product', 'vendor', 'condition', 'observed_at', 'currency', 'price'], name='pricehistory_point'),
        ),
        migrations.RemoveIndex(
            model_name='pricehistory',
            name='pricehistory_series',
        ),
    ]
