"""Hand-labelled (gold Orphanet name, answer) pairs for the judge routing of issue 16.

Each pair was labelled from medical knowledge (standard references: Orphanet synonyms, OMIM titles,
ICD-10/11 inclusion terms, textbook eponyms), NOT from any scorer's output:

* ``synonym``  the answer names the same disease (an eponym, an older or descriptive name, the enzyme
  deficiency, or the name in another language): a careful grader (RareArena's rubric, grade 2)
  credits it; string similarity cannot know it, so without a judge it must be ``uncertain``;
* ``broader``  a group the gold belongs to (grade 1): never correct;
* ``sibling``  a near-name sibling of the gold, or a synonym of a sibling (``Christmas disease`` is
  hemophilia B, not A): grade 0;
* ``other``    another disease, often a classic differential (grade 0).

Every gold is an entity name of the real Orphanet hierarchy file, and no ``synonym`` answer is
itself the name of an entity there (both checked by ``tests/test_diagnosis_judge_routing.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Label = Literal["synonym", "broader", "sibling", "other"]
# RareArena's grades: 2 = same disease, 1 = broader category, 0 = different
GRADE: dict[str, int] = {"synonym": 2, "broader": 1, "sibling": 0, "other": 0}


@dataclass(frozen=True)
class Pair:
    gold: str
    answer: str
    label: Label
    kind: str  # eponym, older_name, descriptive, enzyme, language, group, sibling, differential, ...

    @property
    def grade(self) -> int:
        return GRADE[self.label]


ALS = "Amyotrophic lateral sclerosis"
FABRY = "Fabry disease"
HHT = "Hereditary hemorrhagic telangiectasia"
NF1 = "Neurofibromatosis type 1"
POMPE = "Glycogen storage disease due to acid maltase deficiency"
GAUCHER = "Gaucher disease"
MPS1 = "Mucopolysaccharidosis type 1"
MPS2 = "Mucopolysaccharidosis type 2"
HEMA = "Hemophilia A"
GCA = "Giant cell arteritis"
GPA = "Granulomatosis with polyangiitis"
DMD = "Duchenne muscular dystrophy"

PAIRS: list[Pair] = [
    # --- true synonyms (grade 2) ---------------------------------------------------------------
    Pair(ALS, "Lou Gehrig disease", "synonym", "eponym"),
    Pair(FABRY, "Anderson-Fabry disease", "synonym", "eponym"),
    Pair(FABRY, "Alpha-galactosidase A deficiency", "synonym", "enzyme"),
    Pair(FABRY, "Angiokeratoma corporis diffusum", "synonym", "older_name"),
    Pair(FABRY, "法布里病", "synonym", "language"),
    Pair(FABRY, "Morbus Fabry", "synonym", "language"),
    Pair(HHT, "Osler-Weber-Rendu disease", "synonym", "eponym"),
    Pair(HHT, "Rendu-Osler-Weber syndrome", "synonym", "eponym"),
    Pair(NF1, "von Recklinghausen disease", "synonym", "eponym"),
    Pair(POMPE, "Pompe disease", "synonym", "eponym"),
    Pair(POMPE, "Glycogen storage disease type II", "synonym", "older_name"),
    Pair(GAUCHER, "Glucocerebrosidase deficiency", "synonym", "enzyme"),
    Pair(GAUCHER, "戈谢病", "synonym", "language"),
    Pair(GAUCHER, "Maladie de Gaucher", "synonym", "language"),
    Pair("Wilson disease", "Hepatolenticular degeneration", "synonym", "descriptive"),
    Pair("Huntington disease", "Huntington chorea", "synonym", "older_name"),
    Pair("Phenylketonuria", "Phenylalanine hydroxylase deficiency", "synonym", "enzyme"),
    Pair("Glycogen storage disease due to glucose-6-phosphatase deficiency", "von Gierke disease", "synonym", "eponym"),
    Pair(
        "Glycogen storage disease due to muscle glycogen phosphorylase deficiency",
        "McArdle disease",
        "synonym",
        "eponym",
    ),
    Pair(MPS2, "Hunter syndrome", "synonym", "eponym"),
    Pair("Mucopolysaccharidosis type 6", "Maroteaux-Lamy syndrome", "synonym", "eponym"),
    Pair("Down syndrome", "Trisomy 21", "synonym", "descriptive"),
    Pair("Takayasu arteritis", "Pulseless disease", "synonym", "older_name"),
    Pair(GCA, "Horton disease", "synonym", "eponym"),
    Pair(GCA, "Temporal arteritis", "synonym", "descriptive"),
    Pair(GPA, "Wegener granulomatosis", "synonym", "older_name"),
    Pair("Eosinophilic granulomatosis with polyangiitis", "Churg-Strauss syndrome", "synonym", "eponym"),
    Pair("Immunoglobulin A vasculitis", "Henoch-Schönlein purpura", "synonym", "eponym"),
    Pair("Kawasaki disease", "Mucocutaneous lymph node syndrome", "synonym", "descriptive"),
    Pair("Tuberous sclerosis complex", "Bourneville disease", "synonym", "eponym"),
    Pair("Sturge-Weber syndrome", "Encephalotrigeminal angiomatosis", "synonym", "descriptive"),
    Pair("Krabbe disease", "Globoid cell leukodystrophy", "synonym", "descriptive"),
    Pair("Metachromatic leukodystrophy", "Arylsulfatase A deficiency", "synonym", "enzyme"),
    Pair("Maple syrup urine disease", "Branched-chain ketoaciduria", "synonym", "descriptive"),
    Pair("Langerhans cell histiocytosis", "Histiocytosis X", "synonym", "older_name"),
    Pair("Acute intermittent porphyria", "Porphobilinogen deaminase deficiency", "synonym", "enzyme"),
    Pair("Cornelia de Lange syndrome", "Brachmann-de Lange syndrome", "synonym", "eponym"),
    Pair("Smith-Lemli-Opitz syndrome", "7-dehydrocholesterol reductase deficiency", "synonym", "enzyme"),
    Pair("Fragile X syndrome", "Martin-Bell syndrome", "synonym", "eponym"),
    Pair("Menkes disease", "Kinky hair disease", "synonym", "descriptive"),
    Pair("Hemophilia B", "Christmas disease", "synonym", "eponym"),
    Pair(HEMA, "Factor VIII deficiency", "synonym", "enzyme"),
    Pair("Osteogenesis imperfecta", "Brittle bone disease", "synonym", "descriptive"),
    Pair("Primary ciliary dyskinesia", "Immotile cilia syndrome", "synonym", "older_name"),
    Pair("Cystic fibrosis", "Mucoviscidosis", "synonym", "older_name"),
    Pair("Tay-Sachs disease", "Hexosaminidase A deficiency", "synonym", "enzyme"),
    Pair("Marfan syndrome", "马凡综合征", "synonym", "language"),
    Pair(ALS, "Sclérose latérale amyotrophique", "synonym", "language"),
    # --- broader groups (grade 1) ----------------------------------------------------------------
    Pair(HEMA, "Hemophilia", "broader", "group"),
    Pair(MPS2, "Mucopolysaccharidosis", "broader", "group"),
    Pair("Tay-Sachs disease", "GM2 gangliosidosis", "broader", "group"),
    Pair(GAUCHER, "Sphingolipidosis", "broader", "group"),
    Pair(POMPE, "Glycogen storage disease", "broader", "group"),
    Pair("Wilson disease", "Disorder of copper metabolism", "broader", "group"),
    Pair(NF1, "Neurofibromatosis", "broader", "group"),
    Pair(FABRY, "Lysosomal storage disease", "broader", "group"),
    Pair(ALS, "Motor neuron disease", "broader", "group"),
    Pair(GCA, "Large-vessel vasculitis", "broader", "group"),
    # --- near-name siblings and synonyms of siblings (grade 0) -----------------------------------
    Pair(HEMA, "Hemophilia B", "sibling", "sibling"),
    Pair(HEMA, "Christmas disease", "sibling", "synonym_of_sibling"),
    Pair(MPS1, "Hunter syndrome", "sibling", "synonym_of_sibling"),
    Pair(MPS2, "Mucopolysaccharidosis type 1", "sibling", "sibling"),
    Pair(NF1, "Neurofibromatosis type 2", "sibling", "sibling"),
    Pair(GPA, "Churg-Strauss syndrome", "sibling", "synonym_of_sibling"),
    Pair(POMPE, "McArdle disease", "sibling", "synonym_of_sibling"),
    Pair(DMD, "Becker muscular dystrophy", "sibling", "sibling"),
    # --- other diseases, classic differentials (grade 0) -----------------------------------------
    Pair(FABRY, "Gaucher disease", "other", "differential"),
    Pair(ALS, "Kennedy disease", "other", "differential"),
    Pair(ALS, "Primary lateral sclerosis", "other", "differential"),
    Pair("Wilson disease", "Menkes disease", "other", "differential"),
    Pair(GCA, "Takayasu arteritis", "other", "differential"),
    Pair("Tay-Sachs disease", "Sandhoff disease", "other", "differential"),
    Pair("Marfan syndrome", "Loeys-Dietz syndrome", "other", "differential"),
    Pair(GAUCHER, "Niemann-Pick disease type C", "other", "differential"),
    Pair("Angelman syndrome", "Prader-Willi syndrome", "other", "differential"),
    Pair("Krabbe disease", "Metachromatic leukodystrophy", "other", "differential"),
    Pair("Kawasaki disease", "Takayasu arteritis", "other", "differential"),
    Pair("Cystic fibrosis", "Primary ciliary dyskinesia", "other", "differential"),
]

SYNONYMS: list[Pair] = [p for p in PAIRS if p.label == "synonym"]
NEAR_MISSES: list[Pair] = [p for p in PAIRS if p.label != "synonym"]
