from cxdesk.cli import main

main()
