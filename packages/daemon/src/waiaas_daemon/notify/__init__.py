"""Owner notifications of SPEC 13: an outbox written with its cause, delivered in the background.

The public surface: ``Notifier`` (enqueue, the worker), ``NOTIFY_SCHEMA``,
``list_deliveries`` and ``settings_view`` for the admin routes.
"""

from waiaas_daemon.notify.channels import (
    CHANNELS,
    configured_channels,
    settings_view,
    signature,
)
from waiaas_daemon.notify.messages import Message, render
from waiaas_daemon.notify.outbox import enqueue, list_deliveries
from waiaas_daemon.notify.worker import Notifier
from waiaas_daemon.storage.migrations import NOTIFY_SCHEMA

__all__ = [
    "CHANNELS",
    "NOTIFY_SCHEMA",
    "Message",
    "Notifier",
    "configured_channels",
    "enqueue",
    "list_deliveries",
    "render",
    "settings_view",
    "signature",
]
