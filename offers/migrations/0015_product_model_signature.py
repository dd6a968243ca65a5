# Products get their model signature (offers.similarity.model_signature), and matching's block
# index gains it: a line is compared only with the products that can be its model.

from django.db import migrations, models

BATCH = 2000


def fill_signatures(apps, schema_editor):
    from offers.similarity import model_signature

    Product = apps.get_model("offers", "Product")
    rows = Product.objects.exclude(model="").order_by("pk").values_list("pk", "model")
    last = 0
    while batch := list(rows.filter(pk__gt=last)[:BATCH]):
        for pk, model in batch:
            Product.objects.filter(pk=pk).update(model_signature=model_signature(model))
        last = batch[-1][0]


class Migration(migrations.Migration):

    dependencies = [
        ('offers', '0014_pricehistory_point_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='product',
            name='model_signature',
            field=models.CharField(blank=True, db_default='', default='', editable=False, help_text="The model's numbers and variant words: only products with the same can be the same model.", max_length=150),
        ),
        migrations.RunPython(fill_signatures, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='product',
            index=models.Index(condition=models.Q(('brand', ''), _negated=True), fields=['brand', 'storage', 'connectivity', 'model_signature'], name='product_block_signature'),
        ),
        migrations.RemoveIndex(
            model_name='product',
            name='product_block',
        ),
    ]
