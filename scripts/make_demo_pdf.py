"""Writes the demo corpus's one PDF (run once; the PDF is committed).

The demo reads it back with pypdf at run time, so the corpus exercises a real
PDF text layer rather than a text file renamed. Needs fpdf2, which is not a
dependency of ragperf (only this one-off generator uses it):

    pip install fpdf2 && python scripts/make_demo_pdf.py
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from fpdf import FPDF

OUT = Path(__file__).resolve().parents[1] / "python/ragperf/demo/corpus/17_radio_compliance.pdf"

TITLE = "Radio and Regulatory Compliance Data Sheet"

PARAGRAPHS = [
    "This data sheet lists the radio bands, transmit power and certifications of Alderbank "
    "devices. It is meant for installers and for customers who need to document a "
    "deployment for an insurer or a landlord.",
    "In Europe the Beacon gateway and the Furrow soil probe transmit in the 868 MHz band. "
    "In North America they use the 915 MHz band instead, so a gateway bought in one region "
    "cannot talk to probes bought in the other. The maximum transmit power is 25 milliwatts.",
    "The Halyard and the Plume connect to your router over 2.4 GHz Wi-Fi (802.11 b/g/n). "
    "They do not support the 5 GHz band.",
    "All Alderbank devices carry the CE mark and comply with the EU Radio Equipment Directive "
    "2014/53/EU and the RoHS directive. The devices sold in the United States are certified "
    "under FCC Part 15; the FCC identifier is printed under the base next to the serial number.",
    "The signed declarations of conformity can be downloaded from each product page, or "
    "requested from support by quoting the serial number of the device.",
]


def main() -> None:
    pdf = FPDF(format="A4")
    # a fixed date: re-running gives the same bytes
    pdf.set_creation_date(datetime(2026, 1, 1, tzinfo=timezone.utc))
    pdf.set_title(TITLE)
    pdf.set_author("Alderbank Instruments")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.multi_cell(0, 9, TITLE)
    pdf.ln(3)
    pdf.set_font("Helvetica", size=11)
    for paragraph in PARAGRAPHS:
        pdf.multi_cell(0, 6, paragraph)
        pdf.ln(3)
    pdf.output(str(OUT))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
