from dn.cli import main

main()
