"""Sign-in: local accounts and SSO (django-allauth), IdP groups mapped to portal groups, the
authentication context a sign-off records, step-up at signing, session lifetimes."""
