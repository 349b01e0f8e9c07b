"""IAM as the front door applies it: policy documents (:mod:`.policy`), the access check of every call (:mod:`.access`).

Core holds the rules; the identities and their policies are kept by the
service that is the mock's identity authority (STS), which registers itself
with the mock's :class:`~.access.AccessControl`. No service imports another.
"""
