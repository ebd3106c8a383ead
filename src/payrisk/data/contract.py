"""The data contract: the tables payrisk reads, their columns and types.

This module is the one place that says what a payment history looks like. The loader, the
validation suites, the importer and the generator all read it, so a column is added here once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

DATE_DTYPE = "datetime64[ns]"
DATE_FORMAT = "%Y-%m-%d"
MONEY_DECIMALS = 2
# Ids and text, as the service takes them: any script, bounded, no control characters (C0, DEL,
# C1: a tab or line break in an id breaks every file and message it appears in).
MAX_ID_LENGTH = 64
MAX_TEXT_LENGTH = 128  # country, industry
MAX_EXTRA_LENGTH = 1000  # extra columns kept as text (names, notes): bounded, anything else goes
CONTROL_CHARACTERS = "\x00-\x1f\x7f-\x9f"


class Kind(StrEnum):
    """How a column is parsed from text and checked."""

    ID = "id"  # opaque identifier, kept as a string ("007" stays "007")
    DATE = "date"  # calendar day, ISO 8601 YYYY-MM-DD in files
    MONEY = "money"  # decimal amount, rounded to cents
    CURRENCY = "currency"  # ISO 4217 three-letter code
    BOOL = "bool"  # true/false, 1/0, yes/no
    INT = "int"
    TEXT = "text"
    CHANNEL = "channel"  # one of CHANNELS


class Channel(StrEnum):
    """Contact channels of a dunning step, from the softest to the hardest."""

    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    LETTER = "letter"
    FORMAL_NOTICE = "formal_notice"
    AGENCY = "agency"


CHANNELS: tuple[str, ...] = tuple(c.value for c in Channel)


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool
    description: str


@dataclass(frozen=True)
class Table:
    name: str
    required: bool
    key: str  # the column that names a row in error messages
    columns: tuple[Column, ...]
    description: str

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


INVOICES = Table(
    name="invoices",
    required=True,
    key="invoice_id",
    description="One row per invoice issued on credit.",
    columns=(
        Column("invoice_id", Kind.ID, True, "Unique invoice identifier."),
        Column("customer_id", Kind.ID, True, "Identifier of the customer (debtor)."),
        Column("issue_date", Kind.DATE, True, "Day the invoice was issued."),
        Column("due_date", Kind.DATE, True, "Day payment is due under the agreed terms."),
        Column("amount", Kind.MONEY, True, "Invoice total, tax included, > 0."),
        Column("currency", Kind.CURRENCY, True, "ISO 4217 code, e.g. EUR."),
        Column(
            "paid_date", Kind.DATE, False, "Day the invoice was fully settled; empty while open."
        ),
        Column(
            "disputed",
            Kind.BOOL,
            False,
            "The customer disputed the invoice (litige). Without dispute_date it cannot be placed "
            "in time and is not used as a feature.",
        ),
        Column("written_off_date", Kind.DATE, False, "Day the invoice was passed to loss."),
        Column(
            "dispute_date",
            Kind.DATE,
            False,
            "Day the customer raised a dispute (implies disputed).",
        ),
        Column(
            "dispute_resolved_date",
            Kind.DATE,
            False,
            "Day the dispute was settled (credit note, agreement, judgement); empty while open.",
        ),
    ),
)

PAYMENTS = Table(
    name="payments",
    required=False,
    key="invoice_id",
    description="Partial and full payments received; optional.",
    columns=(
        Column("invoice_id", Kind.ID, True, "Invoice the payment settles."),
        Column("payment_date", Kind.DATE, True, "Day the money was received."),
        Column("amount", Kind.MONEY, True, "Amount received, > 0."),
    ),
)

CUSTOMERS = Table(
    name="customers",
    required=False,
    key="customer_id",
    description="Customer attributes; optional. Extra columns (names, e-mails) are never used.",
    columns=(
        Column("customer_id", Kind.ID, True, "Unique customer identifier."),
        Column("country", Kind.TEXT, False, "ISO 3166 country code."),
        Column("industry", Kind.TEXT, False, "Industry or sector label."),
        Column("credit_limit", Kind.MONEY, False, "Credit limit granted, >= 0."),
        Column("created_date", Kind.DATE, False, "Day the customer account was opened."),
        Column("key_account", Kind.BOOL, False, "Strategic customer followed by a sales rep."),
        Column(
            "direct_debit",
            Kind.BOOL,
            False,
            "Pays by direct debit (automatic payment): never reminded unless a collection fails.",
        ),
    ),
)

REMINDERS = Table(
    name="reminders",
    required=False,
    key="invoice_id",
    description="The dunning history: each reminder sent; optional.",
    columns=(
        Column("invoice_id", Kind.ID, True, "Invoice the reminder was about."),
        Column("sent_date", Kind.DATE, True, "Day the reminder was sent."),
        Column("channel", Kind.CHANNEL, True, "One of: " + ", ".join(CHANNELS) + "."),
        Column("step", Kind.INT, False, "Step of the dunning scenario, 1 for the first."),
    ),
)

PROMISES = Table(
    name="promises",
    required=False,
    key="invoice_id",
    description="Promises to pay the customer made; optional. Kept when the payments from the day "
    "it was made to the promised date cover the amount (or the invoice is settled by then).",
    columns=(
        Column("invoice_id", Kind.ID, True, "Invoice the promise is about."),
        Column("made_date", Kind.DATE, True, "Day the customer promised."),
        Column("promised_date", Kind.DATE, True, "Day the customer promised to pay by."),
        Column("amount", Kind.MONEY, False, "Amount promised; empty: all that is open."),
    ),
)

PAYMENT_PLANS = Table(
    name="payment_plans",
    required=False,
    key="invoice_id",
    description="Instalments of agreed payment plans, one row per instalment; optional. An "
    "invoice on a plan is dunned per instalment, not on its whole balance.",
    columns=(
        Column("invoice_id", Kind.ID, True, "Invoice the plan spreads."),
        Column("agreed_date", Kind.DATE, True, "Day the plan was agreed."),
        Column("due_date", Kind.DATE, True, "Day this instalment is due."),
        Column("amount", Kind.MONEY, True, "Amount of this instalment, > 0."),
    ),
)

HOLDS = Table(
    name="holds",
    required=False,
    key="customer_id",
    description="Pauses of dunning (holiday, negotiation, legal review); optional. A hold of a "
    "customer (no invoice_id) pauses all its invoices. Nothing is sent from start to until.",
    columns=(
        Column("customer_id", Kind.ID, True, "Customer held (or whose invoice is)."),
        Column("invoice_id", Kind.ID, False, "Invoice held; empty: all the customer's invoices."),
        Column("start_date", Kind.DATE, True, "First day of the hold."),
        Column("until_date", Kind.DATE, True, "Last day of the hold."),
        Column(
            "reason",
            Kind.TEXT,
            False,
            "Why (free text): for your records; never used, logged, nor copied into scores.",
        ),
    ),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (INVOICES, PAYMENTS, CUSTOMERS, REMINDERS, PROMISES, PAYMENT_PLANS, HOLDS)
}

# ISO 4217 active codes (2024). Kept here rather than in a dependency: the list changes rarely and a
# wrong code in an invoice export is one of the most common import mistakes.
CURRENCY_CODES: frozenset[str] = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL
    GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW
    KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN
    NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK
    SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU
    UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
    """.split()  # noqa: SIM905
)

TRUE_WORDS: frozenset[str] = frozenset({"true", "1", "yes", "y", "t"})
FALSE_WORDS: frozenset[str] = frozenset({"false", "0", "no", "n", "f"})
