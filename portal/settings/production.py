"""Production: secure by default; refuses to start without a real SECRET_KEY.

The TLS settings each come from the environment so that one build runs behind a TLS-terminating
proxy (the defaults) and, for a trial, over plain http on loopback (turn them off explicitly).
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import SECRET_KEY, env

if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("countersign-") or len(set(SECRET_KEY)) < 5:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 50 characters in production "
        "(python -c 'import secrets; print(secrets.token_urlsafe(64))')."
    )

if not env.str("LEDGER_SIGNING_KEY", default="") and not env.str("LEDGER_SIGNING_KEY_FILE", default=""):
    raise ImproperlyConfigured(
        "Set LEDGER_SIGNING_KEY or LEDGER_SIGNING_KEY_FILE: checkpoints of the decision log are signed with a key "
        "kept outside the database (manage.py ledger_keygen PATH writes one)."
    )

if not env.list("SECRET_ENCRYPTION_KEYS", default=[]):
    raise ImproperlyConfigured(
        "Set SECRET_ENCRYPTION_KEYS: webhook signing secrets are stored encrypted with it "
        "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')."
    )

DEBUG = False
# No switch to turn the URL guard off here: name the receivers that are meant in OUTBOUND_ALLOWED_HOSTS.
OUTBOUND_ALLOW_PRIVATE = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Probes inside the cluster speak plain HTTP to the pod; these answers hold no secrets.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
X_FRAME_OPTIONS = "DENY"
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
