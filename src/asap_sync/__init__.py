"""asap-sync: the commission-data platform for the Alipay+ externalInfoSync API."""

__version__ = "0.1.0"
