"""A site whose page model is its own (Wagtail 8's ``WAGTAIL_PAGE_MODEL``).

Run in a process of its own (``make test``): the page model is chosen when
Django starts, and the migrations differ, so it cannot share the main run::

    pytest tests/swapped_page --ds=tests.swapped_page.settings
"""
