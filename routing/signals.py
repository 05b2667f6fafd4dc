"""Drop cached keys and routes whenever gateway data changes: here at once, elsewhere via Redis or the TTL.

Connected per watched model, never to every sender: a post_delete receiver on all models would stop
Django's fast (bulk) delete everywhere, and prune_usage would delete the usage log row by row."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from routing import invalidation
from routing.models import ModelRoute, Price, Provider, ProxyKey, RouteFallback, RouteTarget, TeamBudget, UserBudget

_WATCHED = (Provider, ModelRoute, RouteTarget, RouteFallback, ProxyKey, Price, UserBudget, TeamBudget)


def _data_changed(sender, **kwargs) -> None:
    invalidation.publish()


for _model in (*_WATCHED, get_user_model(), Group):
    post_save.connect(_data_changed, sender=_model, dispatch_uid=f"invalidate-save-{_model._meta.label_lower}")
    post_delete.connect(_data_changed, sender=_model, dispatch_uid=f"invalidate-delete-{_model._meta.label_lower}")


@receiver(m2m_changed)
def _relation_changed(sender, **kwargs) -> None:
    invalidation.publish()
