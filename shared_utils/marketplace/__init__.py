"""The marketplace (issue 20; seeds 000, 001 "Marketplace Model", "User Subscriptions", 003
"Unified Admin Marketplace"): ADMIN baskets published as listings, traders' subscriptions that
run the admin's strategies in the subscriber's own accounts, strategy templates and cloning.

Modules: ``models`` (request/stored/answer shapes), ``service`` (use cases), ``definitions``
(the definition-owner lookup the engine's Prepare/Resolve follow for a subscriber's
execution), ``templates`` (the template library in ``config/templates/``).
"""
