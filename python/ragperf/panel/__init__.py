"""The dashboard: panel data and charts, the Streamlit panel and the
``ragperf dashboard`` server.
"""
