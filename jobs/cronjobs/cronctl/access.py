"""Check permission before a change, and say which of the chart's Roles is missing.

Before suspend, resume or trigger changes anything, cronctl asks the API server (one
SelfSubjectAccessReview per verb and namespace) whether the current user may do it; refused, it
stops before the first change (so a bulk change never half-happens for want of a permission)
and names the chart's operator Role. When the review itself fails (an old or locked-down API
server), the change goes ahead and the API server's own 403 speaks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cronjobs.cronctl.errors import OPERATOR_HINT, Forbidden

if TYPE_CHECKING:
    from cronjobs.cronctl.api import KubeApi


def require(api: KubeApi, verb: str, resource: str, namespaces: set[str]) -> None:
    for namespace in sorted(namespaces):
        if api.can(verb, resource, namespace) is False:
            raise Forbidden(verb, resource, namespace, hint=OPERATOR_HINT)
