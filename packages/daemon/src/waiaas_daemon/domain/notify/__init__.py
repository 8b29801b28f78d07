"""Owner notifications of SPEC 13: an outbox written with its cause, delivered in the background.

The public surface: ``Notifier`` (enqueue, the worker),
``list_deliveries`` and ``settings_view`` for the admin routes.
"""

from waiaas_daemon.domain.notify.channels import (
    CHANNELS,
    configured_channels,
    settings_view,
    signature,
)
from waiaas_daemon.domain.notify.messages import Message, render
from waiaas_daemon.domain.notify.outbox import enqueue, list_deliveries
from waiaas_daemon.domain.notify.worker import Notifier

__all__ = [
    "CHANNELS",
    "Message",
    "Notifier",
    "configured_channels",
    "enqueue",
    "list_deliveries",
    "render",
    "settings_view",
    "signature",
]
