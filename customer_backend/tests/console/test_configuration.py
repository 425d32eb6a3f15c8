"""Configuration, maintenance, admins and email pages in a real Chromium."""

from __future__ import annotations

import re

from playwright.async_api import expect

from wrktalk_testing.browser import axe_violations, describe_violations

from .conftest import Mailer, SignIn, screenshot


async def test_edit_a_setting_then_read_its_revision_and_the_diff(
    sign_in: SignIn,
    rows,  # type: ignore[no-untyped-def]
) -> None:
    page = await sign_in()
    await page.get_by_role("link", name="Configuration").click()
    await page.get_by_label("Name", exact=True).fill("LOG_LEVEL")
    await page.get_by_label("Value", exact=True).fill("info")
    await page.get_by_role("button", name="Add variable").click()
    await page.get_by_label("Value of LOG_LEVEL").fill("debug")
    await page.get_by_role("button", name="Save LOG_LEVEL").click()
    revisions = page.get_by_role("table", name="Changes of the non-essential settings")
    await expect(revisions).to_contain_text("LOG_LEVEL updated")
    await expect(revisions).to_contain_text("ada@acme.example")
    violations = await axe_violations(page)
    assert violations == [], describe_violations(violations)
    await screenshot(page, "configuration")
    await page.get_by_role("button", name="Show the difference").click()
    # revision numbers are the database's own, shared with the other tests
    await expect(
        page.get_by_role("heading", name=re.compile(r"^Revision (\d+) compared with revision \d+$"))
    ).to_be_visible()
    differences = page.get_by_role("table", name="Variables that differ")
    await expect(differences.locator("del")).to_have_text("info")
    await expect(differences.locator("ins")).to_have_text("debug")
    violations = await axe_violations(page)
    assert violations == [], describe_violations(violations)
    await screenshot(page, "configuration-diff")


async def test_a_setting_the_api_refuses_is_refused_next_to_its_field(sign_in: SignIn) -> None:
    page = await sign_in()
    await page.get_by_role("link", name="Configuration").click()
    await page.get_by_label("Name", exact=True).fill("1BAD-NAME")
    await page.get_by_label("Value", exact=True).fill("x")
    await page.get_by_role("button", name="Add variable").click()
    await expect(page.get_by_role("alert")).to_contain_text("environment variable name")
    await expect(page.get_by_label("Name", exact=True)).to_have_value("1BAD-NAME")
    await expect(page.get_by_role("table", name="Variables, by name")).to_contain_text(
        "No variable yet"
    )


async def test_switch_maintenance_mode_on(sign_in: SignIn, rows) -> None:  # type: ignore[no-untyped-def]
    page = await sign_in()
    await page.get_by_role("link", name="Maintenance").click()
    await page.get_by_label("Reason").fill("Database upgrade")
    await page.get_by_role("button", name="Switch maintenance mode on").click()
    await expect(page.locator("main")).to_contain_text("Maintenance mode is on")
    await expect(page.get_by_role("table")).to_contain_text("Database upgrade")
    violations = await axe_violations(page)
    assert violations == [], describe_violations(violations)
    await screenshot(page, "maintenance")


async def test_add_an_admin_who_is_emailed_a_link_then_deactivate(
    sign_in: SignIn, mailer: Mailer
) -> None:
    page = await sign_in()
    await page.get_by_role("link", name="Admins").click()
    await page.get_by_label("Email address").fill("grace@acme.example")
    await page.get_by_label("Name").fill("Grace")
    await page.get_by_label("Role").select_option("viewer")
    await page.get_by_role("button", name="Add admin").click()
    table = page.get_by_role("table", name="Admins of this installation")
    await expect(table).to_contain_text("grace@acme.example")
    assert len(await mailer.sign_in_links("grace@acme.example")) == 1
    violations = await axe_violations(page)
    assert violations == [], describe_violations(violations)
    await screenshot(page, "admins")
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Deactivate grace@acme.example").click()
    await expect(table).to_contain_text("deactivated")


async def test_adding_an_existing_admin_is_a_sentence(sign_in: SignIn) -> None:
    page = await sign_in()
    await page.get_by_role("link", name="Admins").click()
    await page.get_by_label("Email address").fill("ada@acme.example")
    await page.get_by_label("Name").fill("Ada again")
    await page.get_by_role("button", name="Add admin").click()
    await expect(page.get_by_role("alert")).to_contain_text("exists already")


async def test_a_viewer_cannot_open_the_admins_page(sign_in: SignIn, console: str) -> None:
    page = await sign_in("vera@acme.example", role="viewer")
    response = await page.goto(f"{console}/admins")
    assert response is not None
    assert response.status == 403
    await expect(page.get_by_role("heading", name="Viewers cannot change anything")).to_be_visible()


async def test_the_email_page_says_who_got_what(sign_in: SignIn) -> None:
    page = await sign_in()
    await page.get_by_role("link", name="Email sent").click()
    table = page.get_by_role("table", name="Notifications")
    await expect(table).to_contain_text("console sign in")
    await expect(table).to_contain_text("ada@acme.example")
    violations = await axe_violations(page)
    assert violations == [], describe_violations(violations)
    await screenshot(page, "emails")
