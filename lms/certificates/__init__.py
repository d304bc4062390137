"""Certificates: the PDF, issue and bulk issue, verification, revocation and reissue."""
