#!/usr/bin/env python3
"""Build a small, independent, span-labelled held-out PII evaluation set.

Standard library only, deterministic (random.Random(20261126)).

Each item is assembled fragment by fragment from a template; every slot
renderer returns a list of (text, label-or-None) fragments, and span offsets
are recorded at the moment a labelled fragment is appended.  Nothing is ever
located by searching the finished text.

Output: heldout_pii.jsonl next to this script, one JSON object per line:
  {"id": int, "text": str,
   "spans": [{"label": str, "start": int, "end": int, "text": str}],
   "template_id": int}
Offsets are Python str indices, end exclusive, spans sorted by start.

Run:  python3 make_heldout_pii.py
"""

import datetime as dt
import json
import os
import re
import unicodedata
from collections import Counter
import random

SEED = 20261126
N_ITEMS = 400
N_NOPII = 60          # 15 % of items carry no PII at all
REF_YEAR = 2024       # "today" for ages / birth years

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "heldout_pii.jsonl")

LABELS = {
    "PERSON", "STREET_ADDRESS", "GPE", "ORGANIZATION", "DATE_TIME", "AGE",
    "PHONE_NUMBER", "EMAIL_ADDRESS", "US_SSN", "ZIP_CODE", "NRP", "TITLE",
    "IP_ADDRESS", "DOMAIN_NAME", "CREDIT_CARD", "IBAN_CODE", "US_DRIVER_LICENSE",
}

# --------------------------------------------------------------------------
# Word lists (all written for this set)
# --------------------------------------------------------------------------

# Surnames may be (masculine, feminine) tuples.
CULTURES = {
    "english": dict(
        F=["Emily", "Sarah", "Hope", "Rose", "Grace", "Faith", "Joy", "Amber",
           "Dawn", "Ivy", "June", "Megan", "Hannah", "Abigail", "Chloe",
           "Mary Ellen", "Summer", "Autumn", "Brooke"],
        M=["James", "Will", "Grant", "Mark", "Frank", "Hunter", "Chase", "Bill",
           "Thomas", "Oliver", "Ethan", "Connor", "Liam", "Wade", "Rich"],
        L=["Thompson", "Walker", "Young", "Brown", "Baker", "Hill", "Wood",
           "Church", "Hall", "King", "Bishop", "Fletcher", "Morgan", "Sullivan",
           "O'Brien", "McAllister", "Price", "Rice", "Long", "White"]),
    "hispanic": dict(
        F=["María", "Guadalupe", "Lucía", "Camila", "Valentina", "Ximena",
           "Rosa", "Dolores", "Mercedes", "Esperanza", "Araceli"],
        M=["José", "Luis", "Alejandro", "Jesús", "Santiago", "Mateo", "Diego",
           "Héctor", "Joaquín", "Rafael"],
        L=["García", "Hernández", "Rodríguez", "López", "Martínez", "Castillo",
           "Ortega", "Ramírez", "Delgado", "de la Cruz", "Villanueva",
           "Morales Rivera", "Gutiérrez", "Navarro"]),
    "west_african": dict(
        F=["Adaeze", "Chiamaka", "Ngozi", "Abena", "Ama", "Folake", "Blessing",
           "Precious", "Aminata", "Fatoumata", "Yetunde"],
        M=["Chinedu", "Oluwaseun", "Kwame", "Kofi", "Emeka", "Babajide",
           "Ibrahima", "Mamadou", "Yaw", "Tunde"],
        L=["Okafor", "Adeyemi", "Mensah", "Boateng", "Okonkwo", "Diallo",
           "Ndiaye", "Asante", "Olawale", "Eze", "Traoré", "Owusu", "Bangura"]),
    "east_asian": dict(
        F=["Mei", "Xiaoling", "Yuki", "Haruka", "Ji-woo", "Seo-yeon", "Hoa",
           "Linh", "Thuy", "Mai"],
        M=["Wei", "Jun", "Hiroshi", "Takumi", "Min-jun", "Hyun-woo", "Minh",
           "Duc", "Kenji", "Hao"],
        L=["Chen", "Wang", "Zhang", "Liu", "Tanaka", "Sato", "Nakamura", "Kim",
           "Park", "Choi", "Nguyen", "Tran", "Pham", "Huang"]),
    "south_asian": dict(
        F=["Priya", "Ananya", "Lakshmi", "Fatima", "Sunita", "Deepa", "Kavya",
           "Nisha", "Harpreet", "Meenakshi"],
        M=["Arjun", "Rahul", "Vikram", "Sanjay", "Imran", "Rohan", "Aditya",
           "Gurpreet", "Faisal", "Karthik"],
        L=["Patel", "Sharma", "Gupta", "Reddy", "Iyer", "Khan", "Chaudhry",
           "Singh", "Banerjee", "Krishnamurthy", "Desai", "Hossain"]),
    "arabic": dict(
        F=["Layla", "Noor", "Aisha", "Mariam", "Yasmin", "Huda", "Salma", "Rania"],
        M=["Omar", "Ahmed", "Khalid", "Youssef", "Tariq", "Hassan", "Karim", "Sami"],
        L=["Al-Sayed", "Haddad", "Nasser", "El-Amin", "Mansour", "Abdullah",
           "Khoury", "Saleh", "Al-Farsi", "Darwish"]),
    "slavic": dict(
        F=["Olga", "Katarzyna", "Natalia", "Svetlana", "Zofia", "Ivana",
           "Milena", "Oksana"],
        M=["Dmitri", "Piotr", "Aleksandr", "Tomasz", "Jakub", "Nikola",
           "Bogdan", "Yuri"],
        L=[("Kowalski", "Kowalska"), ("Petrov", "Petrova"), ("Ivanov", "Ivanova"),
           "Nowak", "Horvat", ("Dvořák", "Dvořáková"), ("Volkov", "Volkova"),
           "Shevchenko", ("Wiśniewski", "Wiśniewska"), "Kovalenko"]),
    "nordic": dict(
        F=["Ingrid", "Astrid", "Sigrid", "Freja", "Linnea", "Signe", "Solveig"],
        M=["Lars", "Erik", "Magnus", "Bjørn", "Olav", "Henrik", "Søren"],
        L=["Johansson", "Lindqvist", "Andersen", "Halvorsen", "Nyström",
           "Eriksen", "Bergström", "Sørensen", "Haugland"]),
    "mediterranean": dict(
        F=["Giulia", "Eleni", "Francesca", "Sofia", "Chiara"],
        M=["Giorgos", "Marco", "Luca", "Dimitris", "Stefano"],
        L=["Rossi", "Papadopoulos", "Esposito", "Conti", "Georgiou", "Ferrara"]),
}
CULTURE_WEIGHTS = {"english": 5, "hispanic": 4, "west_african": 3,
                   "east_asian": 3, "south_asian": 3, "arabic": 2, "slavic": 2,
                   "nordic": 2, "mediterranean": 1}

# (city, state abbr, state name, zip3)
US_CITIES = [
    ("Dayton", "OH", "Ohio", "454"), ("Tucson", "AZ", "Arizona", "857"),
    ("Fresno", "CA", "California", "937"), ("Albany", "NY", "New York", "122"),
    ("Boise", "ID", "Idaho", "837"), ("Macon", "GA", "Georgia", "312"),
    ("Duluth", "MN", "Minnesota", "558"), ("Spokane", "WA", "Washington", "992"),
    ("Worcester", "MA", "Massachusetts", "016"), ("El Paso", "TX", "Texas", "799"),
    ("Toledo", "OH", "Ohio", "436"), ("Eugene", "OR", "Oregon", "974"),
    ("Lansing", "MI", "Michigan", "489"), ("Savannah", "GA", "Georgia", "314"),
    ("Providence", "RI", "Rhode Island", "029"), ("Asheville", "NC", "North Carolina", "288"),
    ("Springfield", "IL", "Illinois", "627"), ("Rochester", "MN", "Minnesota", "559"),
    ("Lubbock", "TX", "Texas", "794"), ("Bakersfield", "CA", "California", "933"),
    ("Scranton", "PA", "Pennsylvania", "185"), ("Knoxville", "TN", "Tennessee", "379"),
]

# (city, country, nationality adjective)
INTL = [
    ("Lagos", "Nigeria", "Nigerian"), ("Accra", "Ghana", "Ghanaian"),
    ("Manila", "the Philippines", "Filipino"), ("Karachi", "Pakistan", "Pakistani"),
    ("Guadalajara", "Mexico", "Mexican"), ("Kraków", "Poland", "Polish"),
    ("Gothenburg", "Sweden", "Swedish"), ("Kharkiv", "Ukraine", "Ukrainian"),
    ("Mogadishu", "Somalia", "Somali"), ("Hanoi", "Vietnam", "Vietnamese"),
    ("Busan", "South Korea", "Korean"), ("Bogotá", "Colombia", "Colombian"),
    ("Cairo", "Egypt", "Egyptian"), ("Dhaka", "Bangladesh", "Bangladeshi"),
    ("Addis Ababa", "Ethiopia", "Ethiopian"), ("Chennai", "India", "Indian"),
    ("Bergen", "Norway", "Norwegian"), ("Amman", "Jordan", "Jordanian"),
    ("San Salvador", "El Salvador", "Salvadoran"), ("Aleppo", "Syria", "Syrian"),
    ("Port-au-Prince", "Haiti", "Haitian"), ("Kabul", "Afghanistan", "Afghan"),
]
EXTRA_NRP = ["Hispanic", "Latina", "African American", "Hmong", "Navajo",
             "Somali American", "Irish", "Cuban"]
RELIGIONS = ["Muslim", "Jewish", "Hindu", "Catholic", "Sikh", "Buddhist",
             "Orthodox Christian", "Jehovah's Witness", "Mormon", "Baptist"]
POLITICS = ["Republican", "Democrat", "Libertarian", "Conservative", "Socialist",
            "Independent"]

HOSPITALS = ["Mercy General Hospital", "St. Luke's Medical Center",
             "Riverside Regional Medical Center", "Lakeview Community Hospital",
             "Northgate Children's Hospital", "Cedar Valley Health System",
             "Harborview Memorial Hospital", "St. Agnes Hospital",
             "Good Samaritan Medical Center", "Pine Ridge General"]
CLINICS = ["Pinecrest Family Medicine", "Oak Street Pediatrics",
           "Bayside Dermatology Associates", "Westfield Cardiology Group",
           "Maple Grove Urgent Care", "Summit Orthopedics",
           "Clearwater Behavioral Health", "Hillside Community Health Center",
           "Northside Women's Clinic", "Valley Endocrine Associates"]
SCHOOLS = ["Lincoln Middle School", "Riverbend Elementary", "Westbrook High School",
           "St. Bridget's Catholic Primary School", "Oakridge Academy",
           "Harmony Hills Elementary", "Crescent Valley High School",
           "Jefferson Junior High", "Maplewood Intermediate School",
           "Eastlake STEM Academy"]
EMPLOYERS = ["Hartwell Logistics", "Delmar Foods", "Brightline Construction",
             "Kessler & Moore LLP", "Northstar Credit Union", "Greenfield Public Library",
             "Tri-County Transit", "Sunrise Senior Living", "Quality Mart",
             "Apex Tool and Die"]
INSURERS = ["BlueRiver Health Plan", "Unity Mutual Insurance", "Keystone Care Alliance",
            "Horizon Crest Insurance", "Pacific Shield Health", "Evergreen Benefit Partners",
            "Liberty Trust Health"]
COLLEGES = ["Eastside Community College", "Northern Plains State University",
            "Bayshore Technical Institute", "Ridgeway College",
            "University of the Cascades", "Southern Lakes University"]
URLS = ["https://portal.cedarvalleyhealth.org", "www.pinecrestfamilymed.com",
        "mychart.riversideregional.org", "https://www.lincolnms.k12.oh.us/calendar",
        "riverbendelementary.org", "www.oakridgeacademy.edu",
        "https://apply.northernplains.edu", "patients.mercygeneral.org/login",
        "www.westbrookhs.net", "https://records.harborviewmemorial.org/request",
        "eastlakestem.org/parents", "https://pay.crescentvalleyschools.org"]
PERSONAL_DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com",
                    "icloud.com", "aol.com", "proton.me", "comcast.net"]
SCHOOL_DOMAINS = ["riverbendschools.org", "lincolnms.k12.oh.us", "westbrookhs.net",
                  "oakridgeacademy.edu", "crescentvalleyschools.org", "eastlakestem.org"]
WORK_DOMAINS = ["cedarvalleyhealth.org", "mercygeneral.org", "hartwell-logistics.com",
                "stlukesmc.org", "pinecrestfamilymed.com"]

STREET_NAMES = ["Maple", "Oak", "Birchwood", "Elm", "Cedar Ridge", "Lincoln",
                "Washington", "Sunset", "Willow Creek", "Hawthorne", "Prospect",
                "Juniper", "Magnolia", "Riverside", "Pine Hollow", "Mill",
                "Chestnut", "Jefferson", "Lakeshore", "Kingsley", "Orchard",
                "Fairview", "Beacon", "Sycamore"]
STREET_SUFFIX = ["St", "Street", "Ave", "Avenue", "Rd", "Road", "Dr", "Drive",
                 "Ln", "Lane", "Ct", "Blvd", "Way", "Pl", "Terrace"]

UK_TOWNS = [("Leeds", "LS6"), ("Bristol", "BS7"), ("Leicester", "LE2"),
            ("Cardiff", "CF24"), ("Manchester", "M14"), ("Glasgow", "G12"),
            ("Norwich", "NR2"), ("Sheffield", "S10")]
UK_STREETS = ["Mill Lane", "Station Road", "Church Street", "Victoria Road",
              "Orchard Close", "Park View", "Albert Terrace", "Queens Drive"]
DE_CITIES = [("Berlin", "10115"), ("Hamburg", "20095"), ("München", "80331"),
             ("Köln", "50667"), ("Leipzig", "04109"), ("Dresden", "01067")]
DE_STREETS = ["Lindenstraße", "Goethestraße", "Am Mühlenweg", "Bahnhofstraße",
              "Rosenweg", "Schillerplatz"]
CA_CITIES = [("Toronto", "ON", "M"), ("Ottawa", "ON", "K"), ("Winnipeg", "MB", "R"),
             ("Halifax", "NS", "B"), ("Calgary", "AB", "T"), ("Vancouver", "BC", "V")]
IN_PLACES = [("Hyderabad", "500"), ("Pune", "411"), ("Chennai", "600"),
             ("Bengaluru", "560"), ("Jaipur", "302")]
IN_BUILDINGS = ["Sai Residency", "Green Park Apartments", "Lakshmi Towers",
                "Shanti Nagar Society", "Prestige Enclave"]
IN_AREAS = ["Banjara Hills", "Koregaon Park", "Anna Nagar", "Indiranagar",
            "Malviya Nagar"]
MX_PLACES = [("Guadalajara", "Jal.", "44"), ("Puebla", "Pue.", "72"),
             ("Monterrey", "N.L.", "64"), ("Oaxaca", "Oax.", "68")]

DRUGS = ["metformin", "lisinopril", "atorvastatin", "apixaban", "levothyroxine",
         "sertraline", "methylphenidate", "albuterol", "amoxicillin", "gabapentin",
         "carbidopa-levodopa", "insulin glargine", "prednisone", "ondansetron",
         "Eliquis", "Synthroid", "Concerta", "furosemide", "tamsulosin"]
CONDITIONS = ["type 2 diabetes", "Crohn's disease", "COPD", "heart failure",
              "Graves' disease", "Hashimoto's thyroiditis", "Parkinson's disease",
              "Alzheimer's disease", "atrial fibrillation", "Bell's palsy",
              "Hodgkin lymphoma", "asthma", "Sjögren's syndrome",
              "Guillain-Barré syndrome", "Cushing's syndrome", "Raynaud's phenomenon",
              "chronic kidney disease", "Addison's disease", "Ménière's disease",
              "migraine with aura", "rheumatoid arthritis", "sickle cell disease"]
SYMPTOMS = ["chest pain", "shortness of breath", "dizziness", "headaches",
            "low back pain", "a cough", "a rash", "palpitations", "nausea",
            "fatigue", "fevers", "knee swelling"]
SPECIALTIES = ["cardiology", "neurology", "endocrinology", "rheumatology",
               "gastroenterology", "orthopedic", "dermatology", "nephrology"]
PROCEDURES = ["colonoscopy", "knee arthroscopy", "cardiac catheterization",
              "lumbar MRI", "cataract surgery", "sleep study", "hip replacement",
              "upper endoscopy"]
LABS = ["INR", "TSH", "A1c", "lipid panel", "CBC", "basic metabolic panel"]
DEVICES = ["Dexcom G7", "FreeStyle Libre 3", "Omnipod 5 pump", "Tandem t:slim X2",
           "continuous glucose monitor"]
SUBJECTS = ["Algebra I", "biology", "language arts", "civics", "chemistry",
            "physics", "geometry", "earth science", "world history", "math"]
TERMINAL = ["heart failure", "COPD", "dementia", "pancreatic cancer",
            "renal disease", "liver disease"]
NEURO = ["Bell's palsy", "Guillain-Barré syndrome", "multiple sclerosis",
         "Parkinson's disease", "Ménière's disease", "migraine with aura",
         "Lambert-Eaton syndrome"]
FLARE = ["Crohn's disease", "rheumatoid arthritis", "asthma", "COPD",
         "Sjögren's syndrome", "ulcerative colitis", "lupus"]
ANTICOAG = ["warfarin", "apixaban", "Eliquis", "rivaroxaban", "Xarelto"]
BPDRUG = ["lisinopril", "amlodipine", "hydralazine", "labetalol", "clonidine"]
GRADES = ["3", "5", "6", "7", "8", "9", "10", "11"]

MONTHS = ["January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December"]
MON = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
       "Nov", "Dec"]
AREA_CODES = ["614", "937", "520", "559", "518", "208", "478", "218", "509",
              "508", "915", "419", "541", "517", "912", "401", "828", "217",
              "507", "806", "661", "570", "865", "312", "713"]


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def ascii_fold(s):
    for a, b in {"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "ß": "ss", "æ": "ae"}.items():
        s = s.replace(a, b)
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]", "", s.lower())


def org_slug(name):
    words = [ascii_fold(w) for w in name.replace("'s", "").split()]
    drop = {"school", "the", "of", "and", "st", ""}
    words = [w for w in words if w not in drop]
    return "".join(words)


def article(word, cap=False):
    m = re.match(r"\d+", word)
    if m:
        n = m.group(0)
        an = n.startswith("8") or n in ("11", "18")
    else:
        an = word[:1].lower() in "aeio"
    a = "an" if an else "a"
    return a.capitalize() if cap else a


def ordinal(n):
    if 10 <= n % 100 <= 20:
        suf = "th"
    else:
        suf = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suf}"


def luhn_complete(prefix, length, rng):
    digits = [int(c) for c in prefix]
    while len(digits) < length - 1:
        digits.append(rng.randrange(10))
    total = 0
    for i, d in enumerate(reversed(digits)):  # check digit will be appended at the end
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    digits.append((10 - total % 10) % 10)
    return "".join(map(str, digits))


def luhn_ok(num):
    total = 0
    for i, c in enumerate(reversed(num)):
        d = int(c)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_check(cc, bban):
    rearr = bban + cc + "00"
    num = "".join(str(int(ch, 36)) for ch in rearr)
    return 98 - int(num) % 97


def iban_valid(s):
    s = s.replace(" ", "")
    rearr = s[4:] + s[:4]
    return int("".join(str(int(ch, 36)) for ch in rearr)) % 97 == 1


class Person:
    def __init__(self, first, last, gender, mid):
        self.first, self.last, self.gender, self.mid = first, last, gender, mid
        self.by = None  # birth year

    def full(self):
        if self.mid:
            return f"{self.first} {self.mid}. {self.last}"
        return f"{self.first} {self.last}"


# --------------------------------------------------------------------------
# Item context: renders slots into (text, label) fragments
# --------------------------------------------------------------------------

class Ctx:
    def __init__(self, rng, tpl):
        self.rng = rng
        self.tpl = tpl
        self.persons = {}
        self.used = {}
        self.last_date = None
        self.us = None       # current US city tuple
        self.intl = None     # current intl tuple
        self.last_org = None # (kind, name) of the last organization rendered

    # ---- small utilities
    def pick(self, key, items):
        used = self.used.setdefault(key, set())
        choices = [x for x in items if x not in used] or list(items)
        x = self.rng.choice(choices)
        used.add(x)
        return x

    def person(self, k):
        if k in self.persons:
            return self.persons[k]
        rng = self.rng
        gender = self.tpl.get("g", {}).get(k) or rng.choice("FM")
        cults = list(CULTURE_WEIGHTS)
        weights = [CULTURE_WEIGHTS[c] for c in cults]
        cult = rng.choices(cults, weights)[0]
        first = rng.choice(CULTURES[cult][gender])
        fam = self.tpl.get("fam", {})
        if k in fam and rng.random() < 0.85:
            last = self.person(fam[k]).last
        else:
            lc = cult if rng.random() < 0.8 else rng.choices(cults, weights)[0]
            last = rng.choice(CULTURES[lc]["L"])
            if isinstance(last, tuple):
                last = last[1] if gender == "F" else last[0]
        mid = rng.choice("ABCDEFGHJKLMNPRSTW") if rng.random() < 0.2 else None
        p = Person(first, last, gender, mid)
        self.persons[k] = p
        return p

    def name_case(self, s):
        r = self.rng.random()
        if r < 0.04:
            return s.lower()
        if r < 0.08:
            return s.upper()
        return s

    def title_for(self, p):
        rng = self.rng
        r = rng.random()
        if r < 0.12:
            t = "Dr."
        elif r < 0.16:
            t = "Prof."
        elif p.gender == "F":
            t = rng.choice(["Mrs.", "Ms.", "Ms.", "Miss"])
        else:
            t = "Mr."
        if rng.random() < 0.1:
            t = t.rstrip(".")
        return t

    def dr_title(self):
        return "Dr" if self.rng.random() < 0.1 else "Dr."

    def birth_year(self, p, lo, hi):
        if p.by is None:
            p.by = self.rng.randint(lo, hi)
        return p.by

    def age_of(self, p, lo, hi):
        if p.by is None:
            age = self.rng.randint(lo, hi)
            p.by = REF_YEAR - age
        return str(REF_YEAR - p.by)

    def fmt_date(self, d, allow_no_year=True):
        f = self.rng.randrange(9 if allow_no_year else 8)
        m = d.month - 1
        if f == 0:
            return f"{d.month:02d}/{d.day:02d}/{d.year}"
        if f == 1:
            return f"{d.month}/{d.day}/{d.year % 100:02d}"
        if f == 2:
            return d.isoformat()
        if f == 3:
            return f"{d.day} {MONTHS[m]} {d.year}"
        if f == 4:
            return f"{MONTHS[m]} {d.day}, {d.year}"
        if f == 5:
            return f"{MON[m]} {d.day}, {d.year}"
        if f == 6:
            return f"{d.day:02d}/{d.month:02d}/{d.year}"
        if f == 7:
            return f"{d.day:02d}-{MON[m]}-{d.year}"
        return f"{MONTHS[m]} {ordinal(d.day)}"

    def rand_date(self, y0, y1):
        start = dt.date(y0, 1, 1).toordinal()
        end = dt.date(y1, 12, 31).toordinal()
        return dt.date.fromordinal(self.rng.randint(start, end))

    def fmt_time(self):
        rng = self.rng
        h = rng.randint(7, 19)
        mi = rng.choice([0, 0, 15, 30, 45, rng.randint(1, 59)])
        f = rng.randrange(6)
        h12 = h % 12 or 12
        ap = "AM" if h < 12 else "PM"
        if f == 0:
            return f"{h12}:{mi:02d} {ap}"
        if f == 1:
            return f"{h12}:{mi:02d} {ap.lower()}"
        if f == 2:
            return f"{h:02d}:{mi:02d}"
        if f == 3:
            return f"{h12}:{mi:02d} {'a.m.' if h < 12 else 'p.m.'}"
        if f == 4:
            return f"{h:02d}{mi:02d}"
        return f"{h12}{ap.lower()}" if mi == 0 else f"{h12}:{mi:02d}{ap.lower()}"

    def phone(self):
        rng = self.rng
        ac = rng.choice(AREA_CODES)
        line = f"{rng.randint(100, 199):04d}" if rng.random() < 0.6 else f"{rng.randint(1000, 9999)}"
        ex = "555"
        f = rng.randrange(9)
        if f == 0:
            return f"({ac}) {ex}-{line}"
        if f == 1:
            return f"{ac}-{ex}-{line}"
        if f == 2:
            return f"{ac}.{ex}.{line}"
        if f == 3:
            return f"+1 {ac} {ex} {line}"
        if f == 4:
            return f"{ac} {ex} {line}"
        if f == 5:
            return f"1-{ac}-{ex}-{line}"
        if f == 6:
            return f"({ac}){ex}-{line}"
        if f == 7:
            return f"+44 7700 900{rng.randint(0, 999):03d}"
        return f"07700 900{rng.randint(0, 999):03d}"

    def email_for(self, p, domains=PERSONAL_DOMAINS):
        rng = self.rng
        f = ascii_fold(p.first)
        l = ascii_fold(p.last)
        d = rng.choice(domains)
        pat = rng.randrange(6)
        if pat == 0:
            u = f"{f}.{l}"
        elif pat == 1:
            u = f"{f[0]}{l}"
        elif pat == 2:
            u = f"{f}{l}{rng.randint(1, 99)}"
        elif pat == 3:
            u = f"{f}_{l[0]}"
        elif pat == 4:
            u = f"{l}.{f}{rng.randint(60, 99)}"
        else:
            u = f"{f}{rng.randint(1960, 2005)}"
        return f"{u}@{d}"

    def us_city(self):
        if self.us is None:
            self.us = self.rng.choice(US_CITIES)
        return self.us

    def zip_for(self, city):
        z = f"{city[3]}{self.rng.randint(1, 99):02d}"
        if self.rng.random() < 0.2:
            z += f"-{self.rng.randint(1000, 9999)}"
        return z

    def street_line(self):
        rng = self.rng
        if rng.random() < 0.05:
            return f"PO Box {rng.randint(100, 9999)}"
        s = f"{rng.randint(2, 9899)} "
        if rng.random() < 0.12:
            s += rng.choice(["N ", "S ", "E ", "W. ", "North "])
        s += f"{rng.choice(STREET_NAMES)} {rng.choice(STREET_SUFFIX)}"
        r = rng.random()
        if r < 0.12:
            s += f", Apt {rng.randint(1, 12)}{rng.choice('ABCD')}"
        elif r < 0.2:
            s += f" #{rng.randint(101, 450)}"
        elif r < 0.25:
            s += f" Unit {rng.randint(1, 40)}"
        return s

    def addr_us(self):
        c = self.us_city()
        return [(self.street_line(), "STREET_ADDRESS"), (", ", None),
                (c[0], "GPE"), (", ", None), (c[1], "GPE"), (" ", None),
                (self.zip_for(c), "ZIP_CODE")]

    def addr_uk(self):
        rng = self.rng
        town, out = rng.choice(UK_TOWNS)
        pc = f"{out} {rng.randint(1, 9)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
        street = f"{rng.randint(1, 220)} {rng.choice(UK_STREETS)}"
        if rng.random() < 0.2:
            street = f"Flat {rng.randint(1, 9)}, " + street
        return [(street, "STREET_ADDRESS"), (", ", None), (town, "GPE"),
                (" ", None), (pc, "ZIP_CODE")]

    def addr_de(self):
        rng = self.rng
        city, z = rng.choice(DE_CITIES)
        z = z[:3] + f"{rng.randint(0, 99):02d}"
        return [(f"{rng.choice(DE_STREETS)} {rng.randint(1, 140)}", "STREET_ADDRESS"),
                (", ", None), (z, "ZIP_CODE"), (" ", None), (city, "GPE")]

    def addr_ca(self):
        rng = self.rng
        city, prov, fsa = rng.choice(CA_CITIES)
        L = "ABCEGHJKLMNPRSTVXY"
        pc = f"{fsa}{rng.randint(1, 9)}{rng.choice(L)} {rng.randint(0, 9)}{rng.choice(L)}{rng.randint(0, 9)}"
        street = f"{rng.randint(10, 2999)} {rng.choice(STREET_NAMES)} {rng.choice(['St', 'Ave', 'Rd', 'Cres'])}"
        if rng.random() < 0.4:
            street += rng.choice([" W", " E", " N"])
        return [(street, "STREET_ADDRESS"), (", ", None), (city, "GPE"),
                (", ", None), (prov, "GPE"), (" ", None), (pc, "ZIP_CODE")]

    def addr_in(self):
        rng = self.rng
        city, pin3 = rng.choice(IN_PLACES)
        street = (f"Flat {rng.randint(101, 904)}, {rng.choice(IN_BUILDINGS)}, "
                  f"{rng.choice(IN_AREAS)}")
        return [(street, "STREET_ADDRESS"), (", ", None), (city, "GPE"),
                (" ", None), (f"{pin3}{rng.randint(1, 99):03d}", "ZIP_CODE")]

    def addr_mx(self):
        rng = self.rng
        city, st, z2 = rng.choice(MX_PLACES)
        street = (f"Calle {rng.choice(['Hidalgo', 'Morelos', 'Juárez', 'Allende'])} "
                  f"{rng.randint(10, 899)}, Col. {rng.choice(['Centro', 'Las Flores', 'Americana'])}")
        return [(street, "STREET_ADDRESS"), (", ", None),
                (f"{z2}{rng.randint(100, 999)}", "ZIP_CODE"), (" ", None),
                (city, "GPE"), (", ", None), (st, "GPE")]

    def ssn(self):
        rng = self.rng
        area = rng.choice([a for a in range(1, 900) if a != 666])
        s = (f"{area:03d}", f"{rng.randint(1, 99):02d}", f"{rng.randint(1, 9999):04d}")
        sep = "-" if rng.random() < 0.8 else " "
        return sep.join(s)

    def dl(self):
        rng = self.rng
        d = lambda n: "".join(str(rng.randrange(10)) for _ in range(n))
        L = "ABCDEFGHJKLMNPRSTUWXYZ"
        f = rng.randrange(7)
        if f == 0:
            return rng.choice(L) + d(7)                                  # CA-style
        if f == 1:
            return f"{d(3)} {d(3)} {d(3)}"                                # NY-style
        if f == 2:
            return f"{rng.choice(L)}{d(3)}-{d(3)}-{d(2)}-{d(3)}-{d(1)}"  # FL-style
        if f == 3:
            return f"{rng.choice(L)}{d(3)}-{d(4)}-{d(4)}"                 # IL-style
        if f == 4:
            return d(8)                                                   # TX-style
        if f == 5:
            return "WDL" + "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(9))
        return f"{rng.choice(L)} {d(3)} {d(3)} {d(3)} {d(3)}"             # MI-style

    def cc(self):
        rng = self.rng
        kind = rng.randrange(4)
        if kind == 0:
            n = luhn_complete("4", 16, rng)
        elif kind == 1:
            n = luhn_complete(str(rng.randint(51, 55)), 16, rng)
        elif kind == 2:
            n = luhn_complete(rng.choice(["34", "37"]), 15, rng)
        else:
            n = luhn_complete("6011", 16, rng)
        assert luhn_ok(n)
        sep = rng.choice([" ", " ", "-", ""])
        if len(n) == 15:
            return sep.join([n[:4], n[4:10], n[10:]])
        return sep.join(n[i:i + 4] for i in range(0, 16, 4))

    def iban(self):
        rng = self.rng
        d = lambda n: "".join(str(rng.randrange(10)) for _ in range(n))
        c = rng.randrange(5)
        if c == 0:
            cc, bban = "GB", rng.choice(["NWBK", "BARC", "LOYD", "HBUK", "MIDL"]) + d(14)
        elif c == 1:
            cc, bban = "DE", d(18)
        elif c == 2:
            cc, bban = "FR", d(23)
        elif c == 3:
            cc, bban = "NL", rng.choice(["ABNA", "INGB", "RABO", "TRIO"]) + d(10)
        else:
            cc, bban = "ES", d(20)
        s = f"{cc}{iban_check(cc, bban):02d}{bban}"
        assert iban_valid(s)
        if rng.random() < 0.6:
            s = " ".join(s[i:i + 4] for i in range(0, len(s), 4))
        return s

    def ip(self):
        rng = self.rng
        f = rng.randrange(6)
        if f == 0:
            return f"192.168.{rng.randint(0, 20)}.{rng.randint(2, 254)}"
        if f == 1:
            return f"10.{rng.randint(0, 60)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}"
        if f == 2:
            return f"203.0.113.{rng.randint(2, 254)}"
        if f == 3:
            return f"198.51.100.{rng.randint(2, 254)}"
        if f == 4:
            return f"172.{rng.randint(16, 31)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}"
        return f"2001:db8:{rng.randint(0, 0xffff):x}::{rng.randint(1, 0xffff):x}"

    # ---- the slot dispatcher
    def slot(self, spec):
        m = re.fullmatch(r"(?:(a|A):)?(\w+)(?:#(\d+))?", spec)
        assert m, spec
        art, kind, k = m.group(1), m.group(2), int(m.group(3) or 1)
        frags = self._slot(kind, k)
        if art:
            frags = [(article(frags[0][0], cap=(art == "A")) + " ", None)] + frags
        return frags

    def _slot(self, kind, k):
        rng = self.rng
        P = lambda: self.person(k)
        # ---- persons and titles
        if kind == "name":
            return [(self.name_case(P().full()), "PERSON")]
        if kind == "first":
            return [(self.name_case(P().first), "PERSON")]
        if kind == "last":
            return [(self.name_case(P().last), "PERSON")]
        if kind in ("tlast", "tfull"):
            p = P()
            nm = p.last if kind == "tlast" else p.full()
            return [(self.title_for(p), "TITLE"), (" ", None), (self.name_case(nm), "PERSON")]
        if kind in ("dr", "drfull"):
            p = P()
            nm = p.last if kind == "dr" else p.full()
            return [(self.dr_title(), "TITLE"), (" ", None), (self.name_case(nm), "PERSON")]
        if kind in ("mom", "dad"):
            p = P()
            t = rng.choice(["Mrs.", "Ms."]) if kind == "mom" else "Mr."
            return [(t, "TITLE"), (" ", None), (self.name_case(p.last), "PERSON")]
        # ---- pronouns / person-dependent fillers (unlabelled)
        if kind in ("he", "He", "his", "His", "him"):
            fem = P().gender == "F"
            w = {"he": "she" if fem else "he", "his": "her" if fem else "his",
                 "him": "her" if fem else "him"}[kind.lower()]
            return [(w.capitalize() if kind[0].isupper() else w, None)]
        if kind == "sex":
            return [("woman" if P().gender == "F" else "man", None)]
        if kind == "sexab":
            return [(rng.choice(["female", "F"]) if P().gender == "F" else rng.choice(["male", "M"]), None)]
        if kind == "relation":
            fem = P().gender == "F"
            return [(self.pick("relation", ["wife", "daughter", "sister", "niece"] if fem
                               else ["husband", "son", "brother", "nephew"]), None)]
        if kind == "spouse":
            if rng.random() < 0.2:
                return [("partner", None)]
            return [("wife" if P().gender == "F" else "husband", None)]
        # ---- contact
        if kind == "email":
            return [(self.email_for(P()), "EMAIL_ADDRESS")]
        if kind == "semail":
            return [(self.email_for(P(), ["students." + d for d in SCHOOL_DOMAINS]), "EMAIL_ADDRESS")]
        if kind == "staffemail":
            p = P()
            doms = SCHOOL_DOMAINS
            if self.last_org and self.last_org[0] == "school":
                doms = [org_slug(self.last_org[1]) + ".org"]
            return [(self.email_for(p, doms), "EMAIL_ADDRESS")]
        if kind == "phone":
            return [(self.phone(), "PHONE_NUMBER")]
        if kind == "url":
            return [(self.pick("url", URLS), "DOMAIN_NAME")]
        if kind == "ip":
            return [(self.ip(), "IP_ADDRESS")]
        # ---- identifiers
        if kind == "ssn":
            return [(self.ssn(), "US_SSN")]
        if kind == "dl":
            return [(self.dl(), "US_DRIVER_LICENSE")]
        if kind == "cc":
            return [(self.cc(), "CREDIT_CARD")]
        if kind == "iban":
            return [(self.iban(), "IBAN_CODE")]
        # ---- ages / dates
        if kind == "age":
            return [(self.age_of(P(), 19, 94), "AGE")]
        if kind == "ageold":
            return [(self.age_of(P(), 66, 99), "AGE")]
        if kind == "agekid":
            return [(self.age_of(P(), 5, 17), "AGE")]
        if kind == "agemom":
            return [(str(rng.randint(18, 44)), "AGE")]
        if kind in ("dob", "dobkid", "dobteen", "dobyoung"):
            lo, hi = {"dob": (1932, 2004), "dobkid": (2007, 2018),
                      "dobteen": (2005, 2007), "dobyoung": (2018, 2019)}[kind]
            y = self.birth_year(P(), lo, hi)
            d = self.rand_date(y, y)
            return [(self.fmt_date(d, allow_no_year=False), "DATE_TIME")]
        if kind == "date":
            d = self.rand_date(2023, 2025)
            self.last_date = d
            return [(self.fmt_date(d), "DATE_TIME")]
        if kind == "dlater":
            base = self.last_date or self.rand_date(2023, 2025)
            d = base + dt.timedelta(days=rng.randint(1, 14))
            self.last_date = d
            return [(self.fmt_date(d), "DATE_TIME")]
        if kind == "time":
            return [(self.fmt_time(), "DATE_TIME")]
        if kind == "year":
            return [(str(rng.randint(1995, 2022)), "DATE_TIME")]
        # ---- places
        if kind == "germany":
            return [("Germany", "GPE")]
        if kind == "city":
            return [(self.us_city()[0], "GPE")]
        if kind == "statefull":
            return [(self.us_city()[2], "GPE")]
        if kind == "citystate":
            c = self.us_city()
            st = c[1] if rng.random() < 0.6 else c[2]
            return [(c[0], "GPE"), (", ", None), (st, "GPE")]
        if kind == "zip":
            return [(self.zip_for(self.us_city()), "ZIP_CODE")]
        if kind == "intlcity":
            if self.intl is None:
                self.intl = rng.choice(INTL)
            return [(self.intl[0], "GPE")]
        if kind == "country":
            if self.intl is None:
                self.intl = rng.choice(INTL)
            c = self.intl[1]
            if c.startswith("the "):
                return [("the ", None), (c[4:], "GPE")]
            return [(c, "GPE")]
        if kind == "nat":
            if self.intl is None:
                self.intl = rng.choice(INTL)
            return [(self.intl[2], "NRP")]
        if kind == "nrp":
            pool = [x[2] for x in INTL] + EXTRA_NRP
            return [(self.pick("nrp", pool), "NRP")]
        if kind == "religion":
            return [(self.pick("rel", RELIGIONS), "NRP")]
        if kind == "pol":
            return [(self.pick("pol", POLITICS), "NRP")]
        if kind == "street":
            return [(self.street_line(), "STREET_ADDRESS")]
        if kind == "addr":
            return self.addr_us()
        if kind == "addruk":
            return self.addr_uk()
        if kind == "addrde":
            return self.addr_de()
        if kind == "addrca":
            return self.addr_ca()
        if kind == "addrin":
            return self.addr_in()
        if kind == "addrintl":
            return rng.choice([self.addr_uk, self.addr_de, self.addr_ca,
                               self.addr_in, self.addr_mx])()
        # ---- organizations
        orgs = {"hosp": HOSPITALS, "clinic": CLINICS, "school": SCHOOLS,
                "employer": EMPLOYERS, "insurer": INSURERS, "college": COLLEGES}
        if kind in orgs:
            name = self.pick(kind, orgs[kind])
            self.last_org = (kind, name)
            return [(name, "ORGANIZATION")]
        if kind == "orgurl":
            okind, oname = self.last_org
            slug = org_slug(oname)
            if okind == "college":
                u = rng.choice([f"https://apply.{slug}.edu", f"admissions.{slug}.edu"])
            elif okind == "school":
                u = rng.choice([f"www.{slug}.org", f"https://{slug}.org/calendar",
                                f"{slug}.k12.us"])
            else:
                u = rng.choice([f"www.{slug}.org", f"https://portal.{slug}.org"])
            return [(u, "DOMAIN_NAME")]
        # ---- non-PII fillers
        fill = {"drug": DRUGS, "condition": CONDITIONS, "symptom": SYMPTOMS,
                "specialty": SPECIALTIES, "procedure": PROCEDURES, "lab": LABS,
                "device": DEVICES, "subject": SUBJECTS, "grade": GRADES,
                "terminal": TERMINAL, "neuro": NEURO, "flare": FLARE,
                "anticoag": ANTICOAG, "bpdrug": BPDRUG}
        if kind in fill:
            return [(self.pick(kind, fill[kind]), None)]
        raise KeyError(kind)


NON_PII_KINDS = {"he", "He", "his", "His", "him", "sex", "sexab", "relation",
                 "spouse", "drug", "condition", "symptom", "specialty",
                 "procedure", "lab", "device", "subject", "grade",
                 "terminal", "neuro", "flare", "anticoag", "bpdrug"}


# --------------------------------------------------------------------------
# Templates.  {kind#k}: slot of the given kind for person/entity k (default 1);
# "a:"/"A:" prefix adds an agreeing indefinite article.
# g: forced gender per person; fam: person k shares surname with person j
# (85 % of the time); case: whole item upper/lower-cased (sloppy notes).
# --------------------------------------------------------------------------

def T(text, **meta):
    d = dict(meta)
    d["text"] = text
    return d


TEMPLATES = [
    # ---------------- clinical (PII) ----------------
    T("{name#1} is {a:age#1}-year-old {nrp} {sex#1} admitted to {hosp} on {date} with {symptom} and {symptom}."),
    T("Discharge summary for {tfull#1} (DOB {dob#1}). Admitted {date} for {condition}; discharged {dlater} to home at {addr} in stable condition."),
    T("Referral from {dr#2} at {clinic}: please evaluate {name#1}, age {age#1}, for worsening {condition}. Office phone {phone}, fax {phone}."),
    T("Hi {dr#2}, this is {first#1}. My {symptom} came back after I stopped the {drug}. Could I get an appointment before {date}? My cell is {phone}."),
    T("Nursing note {time}: pt {name#1} resting comfortably, denies pain. Daughter {first#3} called from {city} asking for an update; callback {phone}.", g={3: "F"}),
    T("Emergency contact for {name#1}: {name#3} ({relation#3}), {phone}, {email#3}. Okay to leave a detailed voicemail."),
    T("{tlast#1}'s claim for the {procedure} was denied by {insurer}. The SSN on file is {ssn}; billing will call {him#1} at {phone}."),
    T("Portal message from {email#1}: I moved to {addr}. Please update my chart and mail the results from my visit on {date}."),
    T("{name#1} is {a:age#1} yo {sexab#1} with a history of {condition} presenting with {symptom} for three days."),
    T("Follow up with {dr#2} in 2 weeks. {name#1} to call {phone} if fever over 101 or increased redness at the incision site.", case="upper"),
    T("Seen today with {his#1} {spouse#3}, {first#3}. {He#1} works night shifts at {employer} and reports poor sleep and daytime fatigue."),
    T("{name#1}, {a:age#1}-year-old retired bus driver from {citystate}, presents for follow-up of {condition} first diagnosed in {year}."),
    T("Telehealth visit on {date} at {time}. {name#1} connected from IP address {ip}; the video dropped twice, so the visit was completed by phone."),
    T("Pharmacy called about the {drug} refill for {tlast#1}. Prior authorization faxed to {insurer} on {date}; awaiting a response."),
    T("Dear {dr#2},\nThank you for referring {tfull#1}, aged {age#1}, whom I saw in the {specialty} clinic at {hosp} on {date}."),
    T("Copay of $40 was charged to card {cc} for the visit on {date}. A receipt was sent to {email#1}."),
    T("{name#1} presented to registration with driver's license {dl} and SSN {ssn}, requesting that records be released to {employer}."),
    T("International patient {name#1} from {intlcity}, {country} will settle the balance by bank transfer from IBAN {iban}."),
    T("Home visit at {street}. {tlast#1} lives alone; neighbor {first#3} checks in daily and can be reached at {phone}."),
    T("pt {name#1} here for inr check, on warfarin 5 mg daily. no bleeding or bruising. next draw {date}.", case="lower"),
    T("Admitting diagnosis: {condition}. Attending: {drfull#2}. Admission date: {date}. Patient age: {age#1}. Code status: full code."),
    T("Follow-up booked with {dr#2} ({specialty}) on {date} at {time} at the {clinic} office, {street}."),
    T("Called {name#1} at {phone} to discuss biopsy results; left a voicemail asking {him#1} to call back before {time} today."),
    T("Message from {name#1}: hey, I lost my inhaler on vacation in {intlcity}. Can you send a new script to the pharmacy on {street}?"),
    T("{tfull#1} was born on {dob#1} in {intlcity}, {country}, and moved to {city} in {year}. {He#1} lives with {his#1} {relation#3}."),
    T("Religious preference: {religion}. {tlast#1} asked that a chaplain of {his#1} faith visit before the {procedure} tomorrow morning."),
    T("Portal access for {name#1} was reset on {date}. A new activation link was sent to {email#1}; sign in at {url}."),
    T("Workers' comp case: {name#1}, employed by {employer}, injured {his#1} lower back lifting boxes at work on {date}. Claim filed with {insurer}."),
    T("POD 2. {name#1} ambulating in hall x2, tolerating regular diet, pain 3/10 on oral meds. Plan discharge tomorrow.", case="upper"),
    T("Birth history: {first#1} was born at {hosp} on {dobkid#1} at 38 weeks by C-section. Mother, {name#3}, was {agemom#3} at delivery.", g={3: "F"}, fam={3: 1}),
    T("{A:agekid#1}-year-old {first#1} brought in by {his#1} father for ear pain since yesterday; attends {school} and has missed three days this month."),
    T("Please fax records for {name#1}, DOB {dob#1}, to {clinic}, attention {drfull#2}. Fax number {phone}."),
    T("{tlast#1} is {a:ageold#1}-year-old veteran living at {addr}, referred for home oxygen evaluation after a recent COPD exacerbation."),
    T("Address on file: {addruk}. Registered GP is {dr#2} at {clinic}; records have been requested by post."),
    T("Triage call: {first#1} says {his#1} mother, age {ageold#3}, fell at home in {city} this morning and cannot bear weight on the left leg.", g={3: "F"}),
    T("Consult: {name#1} is {a:age#1}-year-old {nat} refugee who arrived from {country} in {year}; screening labs for hepatitis B and TB ordered."),
    T("Patient {name#1} requests that {his#1} {relation#3}, {name#3}, not receive any information about this admission."),
    T("Hi, can someone call me at {phone}? My MRI was supposed to be {date} at {time} but I never got a reminder. Thanks, {first#1}"),
    T("Identity verified at check-in with {statefull} driver license {dl}. Patient {name#1}, age {age#1}, updated insurance to {insurer}."),
    T("Ambulance transported {tfull#1} from {addr} after an unwitnessed fall. {He#1} is {ageold#1} and takes {drug} daily."),
    T("Chaplain visit requested; patient identifies as {religion}. {His#1} {spouse#3}, {first#3}, is at the bedside and agrees with the plan."),
    T("{name#1} works part-time at {employer} and is uninsured. Social work will help {him#1} apply for coverage through {insurer}."),
    T("This is {drfull#2} dictating on {name#1}, date of service {date}. The patient is a pleasant {age#1}-year-old seen today for {condition}."),
    T("Immunization record for {name#1}: MMR and varicella given {date} at {clinic}. Next well-child check is due {dlater}."),
    T("Prescription for {drug} sent to the pharmacy on {street} for {tlast#1}; {he#1} prefers text reminders at {phone}."),
    T("Hospice intake: {name#1}, {ageold#1}, end-stage {terminal}. Lives with {his#1} son {first#3} in {citystate}.", g={3: "M"}),
    T("Outside records from {hosp} in {intlcity} received for {name#1}; imaging from {date} shows no interval change."),
    T("Second opinion request received from {email#1}, sent from IP {ip}; CT images dated {date} are attached for review."),
    T("Mailing address for {tlast#1}: {addrca}. Best contact number is {phone}, evenings only."),
    T("The patient's son, {drfull#3}, is a cardiologist at {hosp} and asks for updates by e-mail at {email#3}.", g={3: "M"}),
    T("Nurse message to {dr#2}: BP 182/104 for {tlast#1} at {time}, asymptomatic. Okay to give an extra dose of {bpdrug}?"),
    T("Patient relocated to {germany}; forwarding address is {addrde}. Summary of care sent to {his#1} new physician, {drfull#2}."),
    T("New patient {name#1}, {age#1}, from {addrin}, is visiting {his#1} daughter in {city} and needs a refill of {drug}."),
    T("lab called critical potassium 6.1 on {tlast#1} at {time}. {dr#2} notified, repeat level ordered stat.", case="lower"),
    T("{name#1} is a {nrp} {sex#1} who prefers to be called {first#1}. {He#1} was referred by {clinic} for {specialty} follow-up."),
    T("Transport requested for {tlast#1} on {date}. Pickup at {addr} at {time}; {he#1} uses a wheelchair."),

    # ---------------- school (PII) ----------------
    T("{first#1} has made wonderful progress in reading this term. {He#1} is now confidently tackling chapter books and loves sharing stories with {his#1} classmates."),
    T("Dear {mom#1}, I wanted to let you know that {first#1} missed the {subject} quiz on {date}. {He#1} can make it up during lunch on {dlater}."),
    T("Counselor note: met with {name#1} (grade {grade}) on {date} about test anxiety. Parent {name#3} was contacted at {phone} and agreed to a follow-up meeting.", fam={3: 1}),
    T("{first#1} is a respectful, hard-working member of {tlast#2}'s class. Please encourage {him#1} to read for twenty minutes every night."),
    T("From: {email#3}\nHi {tlast#2}, {first#1} has a fever and will not be in school today. We will send a doctor's note. Thanks, {first#3}", fam={3: 1}),
    T("{name#1}, age {agekid#1}, transferred to {school} from {school} in {citystate} on {date}."),
    T("Student {name#1} lives at {addr} and is eligible for bus route 14 starting next week."),
    T("IEP meeting for {name#1} is set for {date} at {time} in Room 112. Attending: {tlast#2}, {tlast#4}, and {mom#1}."),
    T("{first#1} used {his#1} phone during the {subject} exam. I have spoken with {him#1} and e-mailed {dad#3} at {email#3}.", g={3: "M"}, fam={3: 1}),
    T("Excellent term for {first#1}! {He#1} earned an A in {subject} and will represent {school} at the regional science fair in {city}."),
    T("Guardianship update for {name#1}: the new primary contact is {name#3}, {phone}, {addr}."),
    T("Nurse's office: {name#1} (DOB {dobkid#1}) came in at {time} with a nosebleed that stopped after ten minutes; returned to class."),
    T("Network log: student account {semail#1} signed in from {ip} at {time} on {date} and accessed a blocked gaming site."),
    T("Field trip payment for {first#1} was received by card {cc}. A confirmation was sent to {email#3}.", fam={3: 1}),
    T("{first#1} joined us from {country} this fall and is settling in well. {He#1} is already helping other {nat} students in the newcomer program."),
    T("Hello {tlast#2}, this is {name#3}, {first#1}'s mom. Could we meet on {date} after {time}? My work number is {phone}; I work at {employer}.", g={3: "F"}, fam={3: 1}),
    T("Scholarship application: {name#1}, SSN {ssn}, born {dobteen#1}, resides in {citystate} {zip}. Essay and transcript received."),
    T("Attendance flag: {name#1} has 6 unexcused absences since {date}. Call home at {phone} before referral to the truancy officer.", case="upper"),
    T("Counseling referral: {first#1} shared that {his#1} family recently moved from {intlcity}, {country} and is staying with relatives on {street}."),
    T("{tlast#2} writes: {first#1} shows real talent in art. I would love to see {him#1} join the after-school studio club."),
    T("Health form: {name#1}, age {agekid#1}, severe peanut allergy; EpiPen kept in the front office. Pediatrician is {dr#2} at {clinic}, {phone}."),
    T("International student {name#1} ({country}); tuition for the spring term received by wire from IBAN {iban} on {date}."),
    T("Late pickup: {first#1} was collected at {time} by {his#1} grandmother, {name#3}, who showed driver license {dl} at the front desk.", g={3: "F"}),
    T("Dear {tlast#2}, our family is {religion} and {first#1} will be absent on {date} for a religious holiday. Thank you for understanding, {name#3}", fam={3: 1}),
    T("Transcript request from {name#1}: please upload the final transcript to the {college} admissions portal at {orgurl}."),
    T("{first#1} keeps forgetting homework. spoke w/ mom at {phone} on {date}, will check planner daily and email weekly.", case="lower"),
    T("Behavior incident {date}, {time}: {name#1} and {name#3} argued in the cafeteria. Both students met with {tlast#4}, assistant principal."),
    T("Welcome to {school}! Visit {orgurl} for the school calendar, or reach the front office at {phone}."),
    T("Speech therapy: {first#1}, age {agekid#1}, continues working on /r/ sounds with {tlast#2}. Next session is {date} at {time}."),
    T("Kindergarten screening: {name#1}, born {dobyoung#1}, lives with {his#1} aunt in {citystate}. Vision and hearing screens passed."),
    T("Library notice: {name#1} has three overdue books. Please return them to the {school} library or contact {staffemail#5}."),
    T("Coach's note: {first#1} sprained {his#1} ankle at practice on {date}; trainer {name#3} applied ice and called {mom#1} at {phone}."),
    T("Re: {first#1}'s math placement. {tlast#2} recommends {him#1} for Algebra I next year based on {his#1} strong benchmark scores."),
    T("{name#1} has been accepted to {college} and plans to move to {citystate} after graduation. We are very proud of {him#1}!"),
    T("During our session {first#1} said most arguments at home are about politics; {his#1} father is {a:pol} and {his#1} mother is {a:pol}."),
    T("Parent conference for {name#1} moved to {date} at {time}. {mom#1} will join by phone from {intlcity}."),
    T("{tlast#2} notes that {first#1} participates eagerly in {subject} discussions but needs to check {his#1} work for careless errors."),
    T("New enrollment: {name#1}, age {agekid#1}. Previous address: {addrintl}. Transcript and immunization records have been requested."),
    T("Sub plans for {tlast#2}: {first#1} and {first#3} may not sit together. {first#4} has an IEP and gets extended time on the quiz."),
    T("Billing: {name#1}'s balance of $212.50 was paid online with card {cc} on {date}. The account holder's SSN {ssn} was verified by phone."),
    T("Refund for the cancelled band trip will be sent to IBAN {iban}, per {tfull#3}'s request dated {date}.", fam={3: 1}),
    T("Security alert: three failed sign-ins to the patient portal for {email#1} from {ip} between {time} and {time}."),
    T("Gradebook access flagged: {staffemail#2} logged in from {ip} on {date}. {tlast#2} confirmed it was {his#2} home network."),
    T("Self-pay deposit for {tlast#1}'s {procedure} was taken on card {cc}; the billing ZIP code given was {zip}."),
    T("Benefits application for {name#1}: SSN {ssn}, {statefull} ID {dl}, household of four living in {city}."),
    T("Report card remark: {first#1} is a joy to teach. {He#1} is kind to classmates and always volunteers to help {tlast#2} set up labs."),

    # ---------------- no PII ----------------
    T("Continue {anticoag} and recheck a CBC in six weeks. Counseled on signs of bleeding and when to return to the emergency department."),
    T("History notable for {condition} and {condition}. No known drug allergies. Never smoker; drinks alcohol socially on weekends."),
    T("Glucose readings from the {device} show overnight lows. Reduce basal insulin by 10 percent and review the download in two weeks."),
    T("Neuro exam: Babinski sign negative bilaterally, Glasgow Coma Scale 15. Differential includes {neuro}; MRI brain ordered and neurology consult pending."),
    T("Working toward grade-level expectations in {subject}. Benefits from small-group instruction, visual supports, and frequent check-ins with the teacher."),
    T("Reminder: students need a signed permission slip and a packed lunch for the museum trip. Buses leave right after morning announcements."),
    T("Homework completion has improved this quarter. Please continue practising multiplication facts at home for about ten minutes each night."),
    T("Incision clean, dry and intact with no erythema or drainage. Steri-strips left in place; dressing changed and patient tolerated well."),
    T("Class average on the {subject} unit test was 81 percent. Retakes are available for anyone who scored below 70."),
    T("Screening for {condition} was negative. Recommend annual follow-up and continued physical therapy for gait and balance training."),
    T("Risks and benefits of the {procedure} were discussed at length. All questions were answered and the consent form was reviewed."),
    T("Reading fluency is now 94 words per minute, up from 72 in the fall. Comprehension strategies are emerging but need reinforcement."),
    T("Accommodations per the 504 plan: preferential seating, extra time on timed assessments, and a quiet space for testing."),
    T("Parkinson's disease stable on carbidopa-levodopa with mild resting tremor of the right hand. Fall precautions reviewed; continue current dose."),
    T("Albuterol inhaler may be given by the school nurse before PE as needed. A spare spacer is kept in the health office."),
    T("Vitals stable overnight. Tolerating clear liquids; advance diet as tolerated. Encourage incentive spirometer use every hour while awake."),
    T("Group project grades will be posted once all presentations are finished. Late work loses five percent per school day."),
    T("Hold {drug} the morning of surgery. Nothing to eat after midnight. Bring your CPAP machine and a current medication list."),
    T("Session focused on coping skills for test anxiety. Practised box breathing and positive self-talk; will review strategies next week."),
    T("Echocardiogram shows EF 55 percent with no wall motion abnormality. Moderate aortic regurgitation; no Austin Flint murmur heard on auscultation."),
    T("Newborn exam normal. Apgar scores 8 and 9. Passed hearing screen; hepatitis B vaccine and vitamin K given before transfer to nursery."),
    T("Patient with {condition} reports improved energy since the {drug} dose was adjusted. Labs stable. Return to clinic in three months, sooner if symptoms recur."),
    T("Start {drug} at a low dose and titrate weekly. Side effects reviewed, including nausea and dizziness. Follow up by phone in one week."),
    T("Pt reports {symptom} that worsens with exertion and improves with rest. No fever or weight loss. Will order {lab} and an ECG."),
    T("{subject} grade dropped this quarter because of missing assignments. A study hall has been added and progress will be reviewed at midterm."),
    T("Student would benefit from a small reading intervention group and weekly check-ins with the learning specialist."),
    T("Hearing and vision screening was completed for all second graders today. Letters will go home for anyone who needs a follow-up exam."),
    T("Sick day guidelines: keep children home with a fever over 100.4 or vomiting, and send them back only after 24 hours symptom free."),
    T("MRI findings are consistent with {condition}. Discussed with radiology; no acute intervention needed. Repeat imaging in six months."),
    T("Referred to physical therapy twice weekly for balance training. Home exercise program provided; fall risk score improved from 14 to 9."),
    T("Please label all lunch boxes and water bottles. The lost-and-found bin will be emptied at the end of the month."),
    T("Hoyer lift required for transfers. Turn every two hours; the stage 2 pressure injury on the sacrum is slowly healing."),
    T("Science fair projects are due after spring break. Judges will look for a clear hypothesis, data tables, and a short conclusion."),
    T("Presents with {symptom} and sore throat; rapid strep positive. Started amoxicillin. Return if unable to swallow fluids or breathing becomes difficult."),
    T("Tanner stage 3, growth velocity normal. Discussed sleep hygiene and limiting screen time before bed; recheck at the next annual visit."),
    T("{flare} flare managed with a short steroid taper. Tolerating oral intake and ambulating independently on the unit."),
    T("Student's {device} alarmed during {subject}; glucose was rechecked per the diabetes care plan and a snack was given."),
    T("Lyme disease serology negative. Tick bite site healing well with no erythema migrans. No further testing needed at this time."),
    T("Student completed the Wechsler and Woodcock-Johnson assessments; results will be reviewed at the eligibility meeting."),
    T("Students with dyslexia or Down syndrome may request audio versions of assigned novels through the library media center."),
]

SLOT_RE = re.compile(r"\{([^{}]+)\}")


def slot_kind(spec):
    return re.fullmatch(r"(?:(?:a|A):)?(\w+)(?:#\d+)?", spec).group(1)


def is_nopii(tpl):
    return all(slot_kind(s) in NON_PII_KINDS for s in SLOT_RE.findall(tpl["text"]))


# --------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------

def render(tpl, rng):
    ctx = Ctx(rng, tpl)
    case = tpl.get("case")
    text = ""
    spans = []

    def add(s, label):
        nonlocal text
        if case == "upper":
            s = s.upper()
        elif case == "lower":
            s = s.lower()
        if label is None and s.startswith(".") and text.endswith("."):
            s = s[1:]          # "... 2:01 p.m." + "." -> single period
        start = len(text)
        text += s
        if label is not None:
            spans.append({"label": label, "start": start, "end": len(text), "text": s})

    parts = SLOT_RE.split(tpl["text"])
    for i, part in enumerate(parts):
        if i % 2 == 0:
            if part:
                add(part, None)
        else:
            for s, label in ctx.slot(part):
                add(s, label)
    return text, spans


def check(item):
    text, spans = item["text"], item["spans"]
    prev_end = 0
    for sp in spans:
        assert sp["label"] in LABELS, sp
        assert 0 <= sp["start"] < sp["end"] <= len(text), sp
        assert text[sp["start"]:sp["end"]] == sp["text"], (text, sp)
        assert sp["text"] == sp["text"].strip() and sp["text"], sp
        assert sp["start"] >= prev_end, ("overlap/unsorted", text, spans)
        prev_end = sp["end"]
    n_words = len(text.split())
    assert 10 <= n_words <= 60, (n_words, text)


def main():
    rng = random.Random(SEED)
    assert len(TEMPLATES) >= 80
    assert len({t["text"] for t in TEMPLATES}) == len(TEMPLATES)
    nopii_ids = [i for i, t in enumerate(TEMPLATES) if is_nopii(t)]
    pii_ids = [i for i, t in enumerate(TEMPLATES) if not is_nopii(t)]

    def schedule(ids, n):
        # every template once, then repeats only of templates that have slots
        # (slot-less templates would otherwise produce duplicate texts)
        seq, pool = [], ids[:]
        while len(seq) < n:
            block = pool[:]
            rng.shuffle(block)
            seq += block
            pool = [i for i in ids if SLOT_RE.search(TEMPLATES[i]["text"])]
        return seq[:n]

    order = schedule(nopii_ids, N_NOPII) + schedule(pii_ids, N_ITEMS - N_NOPII)
    rng.shuffle(order)

    items, seen = [], set()
    for tid in order:
        tpl = TEMPLATES[tid]
        for _ in range(50):
            text, spans = render(tpl, rng)
            if text not in seen:
                break
        seen.add(text)
        item = {"id": len(items) + 1, "text": text, "spans": spans, "template_id": tid}
        check(item)
        if tid in nopii_ids:
            assert not spans, item
        else:
            assert spans, item
        items.append(item)

    assert len(seen) == len(items), "duplicate texts"
    with open(OUT, "w", encoding="utf-8") as f:
        for it in items:
            f.write(json.dumps(it, ensure_ascii=False) + "\n")

    labels = Counter(sp["label"] for it in items for sp in it["spans"])
    print(f"wrote {len(items)} items to {OUT}")
    print(f"templates: {len(TEMPLATES)} ({len(pii_ids)} with PII, {len(nopii_ids)} without); "
          f"used: {len({it['template_id'] for it in items})}")
    print(f"items without PII: {sum(1 for it in items if not it['spans'])}")
    print(f"distinct texts: {len({it['text'] for it in items})}")
    print(f"total spans: {sum(labels.values())}")
    for lab in sorted(LABELS):
        print(f"  {lab:18s} {labels.get(lab, 0)}")


if __name__ == "__main__":
    main()
