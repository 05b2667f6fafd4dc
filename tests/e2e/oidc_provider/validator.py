from oauth2_provider.oauth2_validators import OAuth2Validator


class DirectoryValidator(OAuth2Validator):
    """Claims as a company directory sends them: a verified email and the user's groups."""

    oidc_claim_scope = None  # every claim below, whatever scopes were asked for

    def get_additional_claims(self, request):
        user = request.user
        return {
            "email": user.email,
            "email_verified": True,
            "preferred_username": user.username,
            "groups": sorted(user.groups.values_list("name", flat=True)),
        }
