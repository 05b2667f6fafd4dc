"""Drop cached keys and routes whenever gateway data changes: here at once, elsewhere via Redis or the TTL."""

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from routing import invalidation
from routing.models import ModelRoute, Price, Provider, ProxyKey, RouteFallback, RouteTarget, TeamBudget, UserBudget

_WATCHED = (Provider, ModelRoute, RouteTarget, RouteFallback, ProxyKey, Price, UserBudget, TeamBudget)


@receiver(post_save)
@receiver(post_delete)
def _data_changed(sender, **kwargs) -> None:
    if sender in _WATCHED or sender._meta.label_lower in ("auth.user", "auth.group"):
        invalidation.publish()


@receiver(m2m_changed)
def _relation_changed(sender, **kwargs) -> None:
    invalidation.publish()
