"""Reference data of the synthetic bank: code lists, cities, personas and their distributions.

Everything the landing contract (docs/landing.md) calls a "valid code" is defined here, and
every persona-specific distribution lives in one table so that what makes personas separable
(AUM, spend level, channel mix, app use, mcc mix, product holdings, age) is visible at a glance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# --- code lists (the complete valid sets of docs/landing.md) ------------------------------------
CHANNELS = ("mobile_app", "online", "pos", "atm", "branch_counter", "third_party_pay")  # where customers post
SYSTEM_CHANNEL = "system"  # the core system's own postings (month-end ledger movements)
POSTING_CHANNELS = (*CHANNELS, SYSTEM_CHANNEL)
CURRENCIES = ("CNY", "USD", "EUR", "HKD", "JPY")
FOREIGN_CURRENCIES = ("USD", "EUR", "HKD", "JPY")
FX_BASE = {"USD": 7.10, "EUR": 7.75, "HKD": 0.91, "JPY": 0.048}
PRODUCT_TYPES = ("savings", "current", "credit_card", "personal_loan", "mortgage", "wealth", "fund", "insurance")
# Product types a customer may hold besides the savings account everyone has, in the column
# order of Persona.holdings.
OPTIONAL_PRODUCTS = ("current", "credit_card", "personal_loan", "mortgage", "wealth", "fund", "insurance")
CONTACT_CHANNELS = ("sms", "outbound_call", "app_push", "email")
OCCUPATIONS = (
    "employee", "manager", "professional", "civil_servant", "business_owner",
    "freelancer", "retired", "student", "unemployed",
)
INCOME_BANDS = ("lt5k", "5k_10k", "10k_20k", "20k_50k", "gt50k")
INCOME_MONTHLY = np.array([3500, 7500, 14000, 30000, 80000], dtype=float)  # typical CNY per band
RISK_LEVELS = ("R1", "R2", "R3", "R4", "R5")
ACQUISITION_CHANNELS = ("branch", "mobile_app", "online", "referral", "payroll", "partner")
COMPLAINT_CATEGORIES = ("fees", "service", "app_issue", "card", "loan", "wealth_product", "other")
EVENT_TYPES = ("login", "page_view", "product_view", "search", "apply_start", "apply_submit", "password_reset")
DNC_REASONS = ("customer_request", "complaint", "regulator")
BANKS = ("ICBC", "CCB", "ABC", "BOC", "BCM", "CMB", "CIB", "SPDB", "CITIC", "PAB")
DEVICE_MODELS = (
    ("iOS", "iPhone 13"), ("iOS", "iPhone 14"), ("iOS", "iPhone 15"),
    ("Android", "Xiaomi 13"), ("Android", "OPPO Reno10"), ("Android", "vivo X90"),
    ("HarmonyOS", "Huawei Mate 60"), ("HarmonyOS", "Huawei P60"), ("Android", "Honor 90"),
)

# --- cities: pinyin, full Chinese, short Chinese, GB 11643 area code, weight -------------------
CITIES = (
    ("Beijing", "北京市", "北京", "110101", 0.14),
    ("Shanghai", "上海市", "上海", "310101", 0.14),
    ("Guangzhou", "广州市", "广州", "440103", 0.10),
    ("Shenzhen", "深圳市", "深圳", "440303", 0.10),
    ("Hangzhou", "杭州市", "杭州", "330102", 0.08),
    ("Chengdu", "成都市", "成都", "510104", 0.08),
    ("Wuhan", "武汉市", "武汉", "420102", 0.07),
    ("Nanjing", "南京市", "南京", "320102", 0.06),
    ("Xian", "西安市", "西安", "610102", 0.06),
    ("Chongqing", "重庆市", "重庆", "500101", 0.07),
    ("Tianjin", "天津市", "天津", "120101", 0.05),
    ("Suzhou", "苏州市", "苏州", "320505", 0.05),
)
CITY_PINYIN = np.array([c[0] for c in CITIES], dtype=object)
CITY_FULL = np.array([c[1] for c in CITIES], dtype=object)
CITY_SHORT = np.array([c[2] for c in CITIES], dtype=object)
CITY_AREA = np.array([c[3] for c in CITIES], dtype=object)
CITY_WEIGHTS = np.array([c[4] for c in CITIES]) / sum(c[4] for c in CITIES)
# Foreign cities of international card postings and the currency they are charged in.
FOREIGN_CITIES = (
    ("Hong Kong", "HKD"), ("Tokyo", "JPY"), ("Osaka", "JPY"), ("New York", "USD"),
    ("Los Angeles", "USD"), ("Singapore", "USD"), ("Paris", "EUR"), ("Frankfurt", "EUR"),
)

# --- merchant categories -------------------------------------------------------------------------
# Spend categories (ATM cash 6011 is separate) and their log-amount offset from a persona's base.
SPEND_MCC = (
    "4111", "4511", "4900", "5045", "5094", "5311", "5411", "5541", "5651", "5732",
    "5812", "5814", "5912", "5944", "5999", "6211", "7011", "7399", "8062", "8220",
)
MCC_AMOUNT_SHIFT = np.array(
    [-1.5, 2.0, 0.3, 1.5, 2.0, 0.5, -0.3, 0.3, 0.5, 1.5, -0.3, -1.0, -0.2, 2.0, 0.0, 2.5, 1.2, 1.5, 0.8, 1.5]
)
ATM_MCC = "6011"

# --- names --------------------------------------------------------------------------------------
SURNAMES = tuple("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈")
GIVEN_CHARS = tuple("伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华玉萍红玲芬燕鹏辉建国文斌宇浩凯晨欣怡子涵梓轩思雨嘉佳俊博婷雪琳颖晶慧")


@dataclass(frozen=True)
class Persona:
    """A latent customer type. Fields are distributions the generator samples from."""

    name: str
    weight: float
    age: tuple[int, int]
    occupations: dict[str, float]
    income: tuple[float, ...]  # over INCOME_BANDS
    risk: tuple[float, ...]  # over RISK_LEVELS
    aum_log_mu: float  # log CNY of assets under management
    aum_log_sigma: float
    txns_per_month: float
    amount_log_mu: float  # log CNY of a typical card spend
    channels: tuple[float, ...]  # over CHANNELS
    mcc: tuple[float, ...]  # over SPEND_MCC
    holdings: tuple[float, ...]  # probability of holding each of OPTIONAL_PRODUCTS
    app_sessions_per_day: float
    international: float  # share of card spend abroad
    salaried: bool  # receives a monthly salary credit on payday
    churn_hazard: float  # multiplier of the base decline hazard
    hours: str  # daily cycle profile, a key of HOUR_PROFILES
    weekly: str  # weekly cycle profile, a key of WEEKLY_PROFILES
    acquisition: tuple[float, ...]  # over ACQUISITION_CHANNELS


PERSONAS = (
    Persona("young_digital", 0.18, (22, 35), {"employee": .6, "professional": .25, "freelancer": .15},
            (.10, .40, .35, .13, .02), (.05, .20, .35, .30, .10), 10.0, 0.8, 12.0, 4.3,
            (.22, .10, .13, .03, .01, .51),
            (8, 2, 3, 1, 0, 5, 10, 2, 10, 8, 14, 15, 2, 1, 8, 1, 2, 0, 1, 2),
            (.20, .75, .25, .10, .15, .35, .10), 0.09, 0.015, True, 1.3, "evening", "leisure",
            (.10, .45, .25, .10, .05, .05)),
    Persona("salaried_mass", 0.28, (25, 55), {"employee": .7, "civil_servant": .15, "manager": .15},
            (.20, .45, .28, .06, .01), (.15, .35, .35, .12, .03), 10.5, 0.8, 9.2, 4.5,
            (.15, .10, .30, .08, .04, .33),
            (8, 1, 6, 0, 0, 8, 20, 8, 6, 4, 12, 8, 4, 1, 6, 1, 1, 0, 3, 3),
            (.15, .55, .20, .30, .15, .15, .20), 0.025, 0.005, True, 1.0, "office", "leisure",
            (.25, .20, .10, .10, .30, .05)),
    Persona("affluent_investor", 0.07, (35, 65), {"manager": .4, "professional": .35, "business_owner": .25},
            (.00, .02, .13, .45, .40), (.02, .10, .30, .35, .23), 13.8, 0.7, 8.3, 5.4,
            (.25, .20, .30, .02, .10, .13),
            (2, 8, 4, 1, 2, 8, 10, 6, 6, 5, 14, 2, 2, 6, 4, 8, 10, 1, 2, 2),
            (.50, .85, .05, .35, .90, .75, .60), 0.03, 0.04, True, 0.6, "office", "leisure",
            (.45, .15, .10, .25, .00, .05)),
    Persona("small_business_owner", 0.08, (30, 60), {"business_owner": .85, "freelancer": .15},
            (.05, .15, .30, .30, .20), (.05, .15, .35, .30, .15), 12.0, 1.0, 15.5, 5.2,
            (.30, .20, .20, .05, .10, .15),
            (3, 3, 4, 12, 4, 3, 8, 8, 2, 6, 8, 4, 2, 1, 6, 2, 4, 16, 1, 1),
            (.90, .70, .45, .30, .30, .20, .20), 0.03, 0.01, False, 0.9, "office", "business",
            (.40, .15, .15, .15, .00, .15)),
    Persona("retired_saver", 0.15, (60, 85), {"retired": 1.0},
            (.35, .45, .15, .04, .01), (.50, .35, .12, .03, .00), 12.3, 0.8, 4.6, 4.2,
            (.05, .02, .25, .25, .40, .03),
            (3, 0, 8, 0, 0, 6, 28, 2, 3, 1, 6, 2, 16, 1, 5, 1, 1, 0, 15, 1),
            (.05, .15, .02, .03, .55, .20, .45), 0.004, 0.003, False, 0.5, "morning", "flat",
            (.70, .05, .05, .15, .00, .05)),
    Persona("student", 0.10, (18, 24), {"student": 1.0},
            (.95, .05, .00, .00, .00), (.10, .30, .40, .15, .05), 7.8, 0.9, 8.3, 3.6,
            (.15, .05, .10, .05, .00, .65),
            (14, 1, 1, 1, 0, 3, 8, 0, 8, 8, 10, 24, 2, 0, 8, 0, 1, 0, 1, 10),
            (.02, .25, .02, .00, .02, .10, .01), 0.06, 0.01, False, 1.5, "evening", "leisure",
            (.10, .50, .20, .10, .00, .10)),
    Persona("dormant", 0.14, (20, 75), {"employee": .3, "unemployed": .3, "freelancer": .2, "retired": .2},
            (.50, .30, .15, .05, .00), (.30, .40, .20, .08, .02), 8.5, 1.5, 0.4, 4.3,
            (.10, .05, .30, .35, .15, .05),
            (5, 0, 10, 0, 0, 5, 25, 5, 5, 2, 10, 8, 5, 0, 10, 0, 2, 0, 5, 3),
            (.05, .10, .02, .05, .02, .02, .03), 0.001, 0.003, False, 1.6, "office", "flat",
            (.35, .20, .15, .10, .05, .15)),
)
PERSONA_NAMES = tuple(p.name for p in PERSONAS)
PERSONA_WEIGHTS = np.array([p.weight for p in PERSONAS]) / sum(p.weight for p in PERSONAS)

# Share of each hour of the (local) day in a persona's activity: the daily cycle.
HOUR_PROFILES = {
    "office": np.array([1, .5, .3, .2, .2, .4, 1.5, 3, 4, 5, 5.5, 6, 7, 6, 5, 5, 5.5, 6, 7.5, 7.5, 6.5, 5, 3.5, 2]),
    "evening": np.array([3, 2, 1, .5, .3, .3, .8, 2, 3, 3.5, 4, 5, 6.5, 5.5, 4.5, 4.5, 5, 6, 8, 9, 9.5, 9, 7, 5]),
    "morning": np.array([.3, .1, .1, .1, .2, 1, 3, 6, 8, 9, 9, 8, 6, 5, 5.5, 6, 5.5, 5, 4, 3, 2, 1, .5, .3]),
}
# Activity multiplier per weekday, Monday first: the weekly cycle.
WEEKLY_PROFILES = {
    "leisure": np.array([0.92, 0.92, 0.95, 0.97, 1.08, 1.28, 1.16]),
    "business": np.array([1.15, 1.15, 1.12, 1.12, 1.10, 0.72, 0.55]),
    "flat": np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
}

# --- products and campaign affinity --------------------------------------------------------------
# product_id, product_type, name, risk_rating, min_amount, expected_yield (annual %, None = n/a)
PRODUCTS = (
    ("P001", "savings", "活期储蓄账户", "R1", 0, 0.25),
    ("P002", "savings", "整存整取定期存款", "R1", 50, 1.65),
    ("P003", "current", "对公结算账户", "R1", 0, None),
    ("P004", "credit_card", "标准信用卡", "R2", 0, None),
    ("P005", "credit_card", "金卡信用卡", "R2", 0, None),
    ("P006", "credit_card", "白金信用卡", "R2", 0, None),
    ("P007", "personal_loan", "个人消费贷款", "R3", 10000, None),
    ("P008", "personal_loan", "经营性贷款", "R3", 50000, None),
    ("P009", "mortgage", "个人住房贷款", "R2", 300000, None),
    ("P010", "wealth", "稳健理财30天", "R2", 10000, 2.60),
    ("P011", "wealth", "增利理财180天", "R3", 50000, 3.20),
    ("P012", "wealth", "私行尊享理财", "R4", 1000000, 4.10),
    ("P013", "wealth", "现金管理理财", "R1", 1, 2.10),
    ("P014", "fund", "货币市场基金", "R1", 1, 1.90),
    ("P015", "fund", "债券基金", "R2", 1000, 3.00),
    ("P016", "fund", "混合基金", "R4", 1000, 6.00),
    ("P017", "fund", "指数基金", "R4", 100, 7.00),
    ("P018", "insurance", "重疾保险", "R2", 3000, None),
    ("P019", "insurance", "养老年金保险", "R2", 10000, 3.00),
    ("P020", "insurance", "意外保险", "R1", 100, None),
)
PRODUCT_TYPE_OF = {p[0]: p[1] for p in PRODUCTS}
CAMPAIGN_PRODUCTS = ("P005", "P006", "P007", "P010", "P011", "P012", "P015", "P016", "P017", "P018", "P019")
# Response multiplier of persona (rows, PERSONAS order) x product type (columns, OPTIONAL_PRODUCTS
# order): a campaign for a wealth product works on affluent investors, a loan on business owners.
AFFINITY = np.array([
    # current credit_card personal_loan mortgage wealth fund insurance
    [0.3, 2.2, 1.8, 0.8, 0.8, 2.0, 0.6],   # young_digital
    [0.3, 1.3, 1.4, 1.4, 1.0, 0.9, 1.2],   # salaried_mass
    [0.6, 1.0, 0.3, 0.7, 3.0, 2.6, 1.8],   # affluent_investor
    [2.0, 1.0, 2.8, 0.8, 0.9, 0.6, 0.7],   # small_business_owner
    [0.1, 0.3, 0.2, 0.1, 2.2, 0.8, 2.4],   # retired_saver
    [0.1, 1.6, 0.5, 0.0, 0.1, 0.8, 0.2],   # student
    [0.1, 0.2, 0.3, 0.1, 0.1, 0.1, 0.1],   # dormant
])
CONTACT_BASE_RESPONSE = {"sms": 0.015, "outbound_call": 0.035, "app_push": 0.02, "email": 0.01}
CONTACT_OPEN_RATE = {"sms": 0.45, "outbound_call": 0.55, "app_push": 0.35, "email": 0.22}
CONSENT_INITIAL = {"sms": 0.92, "outbound_call": 0.70, "app_push": 0.82, "email": 0.60}
