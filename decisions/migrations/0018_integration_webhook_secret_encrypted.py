# Webhook signing secrets move to an encrypted column; rows already stored in clear are
# encrypted in place (raw SQL: the historical model's field would try to decrypt them).

import decisions.models.fields
from django.db import migrations, models

from decisions.models.fields import TOKEN_PREFIX, decrypt, encrypt


def _rewrite(schema_editor, convert, wanted) -> None:
    connection = schema_editor.connection
    table = connection.ops.quote_name("decisions_integration")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, webhook_secret FROM {table}")  # noqa: S608 - fixed table name
        rows = cursor.fetchall()
        for pk, value in rows:
            if value and wanted(value):
                cursor.execute(f"UPDATE {table} SET webhook_secret = %s WHERE id = %s", [convert(value), pk])  # noqa: S608


def encrypt_existing(apps, schema_editor) -> None:
    _rewrite(schema_editor, encrypt, lambda v: not v.startswith(TOKEN_PREFIX))


def decrypt_existing(apps, schema_editor) -> None:
    _rewrite(schema_editor, decrypt, lambda v: v.startswith(TOKEN_PREFIX))


class Migration(migrations.Migration):

    dependencies = [
        ('decisions', '0017_outbox_messages'),
    ]

    operations = [
        migrations.AddField(
            model_name='integration',
            name='webhook_secret_rotated_at',
            field=models.DateTimeField(blank=True, editable=False, help_text='When the signing secret was last made (creation or rotation).', null=True),
        ),
        migrations.AlterField(
            model_name='integration',
            name='webhook_secret',
            field=decisions.models.fields.EncryptedTextField(editable=False),
        ),
        migrations.RunPython(encrypt_existing, decrypt_existing, elidable=False),
    ]
